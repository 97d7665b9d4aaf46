package ai

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// DefaultTokenURL is Red Hat SSO's token endpoint for console.redhat.com offline tokens.
const DefaultTokenURL = "https://sso.redhat.com/auth/realms/redhat-external/protocol/openid-connect/token"

// ClientID is the OAuth client the offline tokens are issued to.
const ClientID = "cloud-services"

// tokenCache turns an offline (refresh) token into access tokens with the refresh_token
// grant, caches the access token and refreshes it RefreshBefore its expiry, or at once after
// invalidate. It never prints a token.
type tokenCache struct {
	conf          oauth2.Config
	hc            *http.Client
	now           func() time.Time
	refreshBefore time.Duration

	mu      sync.Mutex
	refresh string // current offline token (the endpoint may rotate it)
	tok     *oauth2.Token
}

func newTokenCache(offline, tokenURL string, hc *http.Client, now func() time.Time, before time.Duration) *tokenCache {
	if tokenURL == "" {
		tokenURL = DefaultTokenURL
	}
	return &tokenCache{
		conf: oauth2.Config{
			ClientID: ClientID,
			Endpoint: oauth2.Endpoint{TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInParams},
		},
		hc:            hc,
		now:           now,
		refreshBefore: before,
		refresh:       offline,
	}
}

// token returns a cached access token that is valid for at least refreshBefore, or fetches
// a new one.
func (c *tokenCache) token(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok != nil && c.tok.AccessToken != "" &&
		(c.tok.Expiry.IsZero() || c.now().Add(c.refreshBefore).Before(c.tok.Expiry)) {
		return c.tok.AccessToken, nil
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, c.hc)
	// A token source seeded with only the refresh token always refreshes on first use.
	tok, err := c.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: c.refresh}).Token()
	if err != nil {
		return "", tokenError(err)
	}
	if tok.RefreshToken != "" {
		c.refresh = tok.RefreshToken
	}
	// oauth2 computes Expiry from expires_in with the real clock; re-anchor it to ours so
	// tests with a fake clock see the lifetime the endpoint granted.
	if ei, ok := tok.Extra("expires_in").(float64); ok && ei > 0 {
		tok.Expiry = c.now().Add(time.Duration(ei) * time.Second)
	}
	c.tok = tok
	return tok.AccessToken, nil
}

// invalidate drops the cached access token so the next call fetches a new one.
func (c *tokenCache) invalidate() {
	c.mu.Lock()
	c.tok = nil
	c.mu.Unlock()
}

// tokenError describes a token endpoint failure without quoting the request or the body.
func tokenError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		msg := fmt.Sprintf("ai: token endpoint refused the offline token (HTTP %d", status)
		if re.ErrorCode != "" {
			msg += ", " + re.ErrorCode
		}
		if re.ErrorDescription != "" {
			msg += ": " + re.ErrorDescription
		}
		msg += ")"
		if re.ErrorCode == "invalid_grant" {
			msg += "; the offline token is expired or revoked: get a new one at https://console.redhat.com/openshift/token"
		}
		return fmt.Errorf("%s: %w", msg, ErrAuth)
	}
	return fmt.Errorf("ai: fetch access token: %w", err)
}
