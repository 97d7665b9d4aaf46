package aisim

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
)

// serveToken is a minimal OAuth token endpoint: refresh_token grant, client cloud-services,
// refresh token = one of Auth.OfflineTokens. Errors follow RFC 6749 (invalid_grant...).
func (s *Sim) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, "invalid_request", "bad form")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.Auth == nil {
		oauthError(w, "unauthorized_client", "this simulator runs without auth")
		return
	}
	if r.PostForm.Get("grant_type") != "refresh_token" {
		oauthError(w, "unsupported_grant_type", "only refresh_token")
		return
	}
	if r.PostForm.Get("client_id") != "cloud-services" {
		oauthError(w, "unauthorized_client", "unknown client")
		return
	}
	rt := r.PostForm.Get("refresh_token")
	ok := false
	for _, t := range s.opts.Auth.OfflineTokens {
		if rt != "" && t == rt {
			ok = true
		}
	}
	if !ok {
		oauthError(w, "invalid_grant", "Offline user session not found")
		return
	}
	var b [24]byte
	_, _ = rand.Read(b[:])
	tok := "aisim-" + hex.EncodeToString(b[:])
	s.tokens[tok] = s.now().Add(s.timings.TokenTTL)
	s.stats.TokenGrants++
	s.tokenGrants = append(s.tokenGrants, s.now())
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok, "token_type": "Bearer", "expires_in": int(s.timings.TokenTTL.Seconds()),
	})
}

func oauthError(w http.ResponseWriter, code, desc string) {
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": code, "error_description": desc})
}

// authorized checks the bearer token when auth is on, answering 401 (or the configured
// status for expired tokens) when it fails.
func (s *Sim) authorized(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.Auth == nil {
		return true
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	exp, known := s.tokens[tok]
	switch {
	case !ok || !known:
		writeError(w, http.StatusUnauthorized, "Unauthorized: invalid or missing token")
		return false
	case !s.now().Before(exp):
		st := s.opts.Auth.ExpiredStatus
		if st == http.StatusBadRequest && !s.documents(r, st) {
			st = http.StatusUnauthorized
		}
		writeError(w, st, "Unauthorized: token is expired")
		return false
	}
	return true
}
