package ai

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Sentinel errors an *APIError matches with errors.Is, by HTTP status.
var (
	ErrBadRequest   = errors.New("bad request")    // 400 and 422
	ErrUnauthorized = errors.New("unauthorized")   // 401 and 403
	ErrNotFound     = errors.New("not found")      // 404
	ErrConflict     = errors.New("conflict")       // 409: wrong state for the operation
	ErrUnavailable  = errors.New("unavailable")    // 5xx and 429, after retries
	ErrAuth         = errors.New("authentication") // the token endpoint refused the offline token
)

// APIError is a non-2xx answer of the service, with its error body (code, reason).
type APIError struct {
	Op     string // what the client was doing, e.g. "register cluster"
	Method string
	Path   string // path below the API base; ids only, never secrets
	Status int
	Code   string // the service's code, e.g. "ASSISTED-INSTALL-93" or "401"
	Reason string // the service's reason or message, secrets redacted
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ai: %s: %s %s: %d %s", e.Op, e.Method, e.Path, e.Status, http.StatusText(e.Status))
	if e.Code != "" {
		fmt.Fprintf(&b, " (%s)", e.Code)
	}
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(e.Reason)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrNotFound) and friends work.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrBadRequest:
		return e.Status == http.StatusBadRequest || e.Status == http.StatusUnprocessableEntity
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrConflict:
		return e.Status == http.StatusConflict
	case ErrUnavailable:
		return e.Status >= 500 || e.Status == http.StatusTooManyRequests
	}
	return false
}

// parseAPIError reads the service's error body: `error` {code, reason} or, for 401/403,
// `infra_error` {code, message}. Anything else is kept as a short text.
func parseAPIError(status int, body []byte) (code, reason string) {
	var e struct {
		Code    json.RawMessage `json:"code"`
		Reason  string          `json:"reason"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(body, &e) == nil && (e.Reason != "" || e.Message != "" || len(e.Code) > 0) {
		code = strings.Trim(string(e.Code), `"`)
		reason = e.Reason
		if reason == "" {
			reason = e.Message
		}
		return code, reason
	}
	text := strings.TrimSpace(string(body))
	if len(text) > 200 {
		text = text[:200] + "…"
	}
	return "", text
}

// tokenExpired reports whether a 400/401 body says the access token expired (the hosted
// service has been seen to answer 400 to an expired token).
func tokenExpired(status int, reason string) bool {
	if status == http.StatusUnauthorized {
		return true
	}
	r := strings.ToLower(reason)
	return status == http.StatusBadRequest && strings.Contains(r, "token") &&
		(strings.Contains(r, "expired") || strings.Contains(r, "invalid") || strings.Contains(r, "unauthenticated"))
}
