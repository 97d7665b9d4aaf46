package ai

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/retry"
)

// APIBasePath is where the service's REST API lives below its URL.
const APIBasePath = "/api/assisted-install"

// Config configures a Client. Only URL is required.
type Config struct {
	// URL of the service, e.g. https://api.openshift.com (APIBasePath is appended).
	URL string
	// OfflineToken is the console.redhat.com offline token; empty means no auth
	// (self-hosted service).
	OfflineToken string
	// TokenURL is the SSO token endpoint (DefaultTokenURL when empty).
	TokenURL string
	// HTTPClient sends the requests (a plain client when nil). Its Timeout should be zero:
	// RequestTimeout bounds each attempt.
	HTTPClient *http.Client
	// RequestTimeout bounds one attempt of one request (30s when zero).
	RequestTimeout time.Duration
	// MaxAttempts for calls that are safe to repeat (5 when zero; 1 disables retries).
	MaxAttempts int
	// BackoffBase and BackoffMax shape the exponential backoff with full jitter between
	// attempts (500ms and 15s when zero).
	BackoffBase, BackoffMax time.Duration
	// RefreshBefore is how long before its expiry an access token is replaced (60s when zero).
	RefreshBefore time.Duration
	// Logger gets one debug line per request (no bodies, no tokens). Discarded when nil.
	Logger *slog.Logger
	// Now and Sleep replace the clock in tests.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Metrics, when set, counts request attempts (see NewMetrics).
	Metrics *Metrics
	// Redact are further secrets the client removes from its errors and log lines (the
	// proxy password, which travels in the proxy URLs of cluster and infra env bodies).
	Redact []string
}

// Client talks to the Assisted Installer REST API (v2). It is safe for concurrent use.
type Client struct {
	base    *url.URL
	hc      *http.Client
	tokens  *tokenCache // nil: no auth
	cfg     Config
	log     *slog.Logger
	secrets *redactor
	metrics *Metrics
}

// New checks cfg and returns a client. It does not contact the service.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(cfg.URL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("ai: service URL %q: want http(s)://host[:port]", cfg.URL)
	}
	if !strings.HasSuffix(u.Path, APIBasePath) {
		u.Path += APIBasePath
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.BackoffBase <= 0 {
		cfg.BackoffBase = 500 * time.Millisecond
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = 15 * time.Second
	}
	if cfg.RefreshBefore <= 0 {
		cfg.RefreshBefore = 60 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = retry.Sleep
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{base: u, hc: cfg.HTTPClient, cfg: cfg, log: log, secrets: &redactor{}, metrics: cfg.Metrics}
	for _, s := range cfg.Redact {
		c.secrets.add(s)
	}
	if cfg.OfflineToken != "" {
		c.tokens = newTokenCache(cfg.OfflineToken, cfg.TokenURL, cfg.HTTPClient, cfg.Now, cfg.RefreshBefore)
		c.secrets.add(cfg.OfflineToken)
	}
	return c, nil
}

// request is one API call.
type request struct {
	op     string // human name for errors and metrics, e.g. "register cluster"
	method string
	path   string // below the API base, e.g. /v2/clusters/ID
	query  url.Values
	body   any    // marshalled as JSON when non-nil
	raw    []byte // sent as is (JSON) when non-nil
	retry  bool   // safe to repeat (GET, DELETE, set-style PATCH)
	accept string
}

// do sends req with auth, timeouts and retries and returns the 2xx body.
func (c *Client) do(ctx context.Context, req request) ([]byte, error) {
	body := req.raw
	if req.body != nil {
		b, err := marshalBody(req.body)
		if err != nil {
			return nil, fmt.Errorf("ai: %s: encode body: %w", req.op, err)
		}
		body = b
	}
	refreshed := false
	var data []byte
	var lastErr error // the last failure of the service or the network
	err := retry.Do(ctx, c.retryPolicy(), func(int) error {
		for {
			status, d, err := c.attempt(ctx, req, body)
			c.metrics.observe(req.op, status, err)
			switch {
			case err == nil && status/100 == 2:
				data = d
				return nil
			case err != nil && ctx.Err() != nil:
				return ctx.Err()
			case err == nil && c.tokens != nil && !refreshed && refusedToken(status, d):
				// The request was refused at the door: refresh and send it again at once,
				// whatever the method; this does not count as a try.
				refreshed = true
				c.tokens.invalidate()
				c.log.Debug("ai: access token refused, refreshing", "op", req.op, "status", status)
				continue
			}
			lastErr = c.failure(req, status, d, err)
			return lastErr
		}
	})
	if err != nil && ctx.Err() != nil {
		if lastErr == nil {
			return nil, fmt.Errorf("ai: %s: %w", req.op, ctx.Err())
		}
		return nil, fmt.Errorf("ai: %s: %w (last error: %v)", req.op, ctx.Err(), lastErr)
	}
	return data, err
}

// failure is the error of a failed try, marked retry.Permanent unless sending req again can
// help: a network failure or a 5xx or 429 of a call that is safe to repeat, or a token fetch
// that failed (nothing was sent to the service then). A refused offline token and a
// certificate that does not verify are permanent.
func (c *Client) failure(req request, status int, data []byte, err error) error {
	if err != nil {
		if errors.Is(err, ErrAuth) {
			return retry.Permanent(err)
		}
		badCert := certificateError(err)
		err = fmt.Errorf("ai: %s: %s %s: %w", req.op, req.method, req.path, c.secrets.scrubErr(err))
		if badCert {
			return retry.Permanent(err)
		}
		if req.retry || errors.Is(err, errTokenFetch) {
			return err
		}
		return retry.Permanent(err)
	}
	code, reason := parseAPIError(status, data)
	apiErr := &APIError{Op: req.op, Method: req.method, Path: req.path, Status: status, Code: code, Reason: c.secrets.scrub(reason)}
	if req.retry && (status >= 500 || status == http.StatusTooManyRequests) {
		return apiErr
	}
	return retry.Permanent(apiErr)
}

// certificateError reports whether err is a TLS certificate that did not verify (unknown
// authority, wrong host, expired): the same on every try.
func certificateError(err error) bool {
	var (
		cert *tls.CertificateVerificationError
		ua   x509.UnknownAuthorityError
		ci   x509.CertificateInvalidError
		hn   x509.HostnameError
	)
	return errors.As(err, &cert) || errors.As(err, &ua) || errors.As(err, &ci) || errors.As(err, &hn)
}

// refusedToken reports whether an answer says the access token was refused.
func refusedToken(status int, data []byte) bool {
	_, reason := parseAPIError(status, data)
	return tokenExpired(status, reason)
}

// retryPolicy: MaxAttempts tries of a call that is safe to repeat, exponential waits with
// full jitter from BackoffBase up to BackoffMax, through the injectable Sleep.
func (c *Client) retryPolicy() retry.Policy {
	return retry.Policy{Tries: c.cfg.MaxAttempts, First: c.cfg.BackoffBase, Max: c.cfg.BackoffMax, Jitter: true, Sleep: c.cfg.Sleep}
}

var errTokenFetch = errors.New("token fetch failed")

// attempt sends one request under its own timeout and reads the whole answer.
func (c *Client) attempt(ctx context.Context, req request, body []byte) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	u := *c.base
	u.Path += req.path
	u.RawQuery = req.query.Encode()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, u.String(), rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	accept := req.accept
	if accept == "" {
		accept = "application/json"
	}
	hr.Header.Set("Accept", accept)
	if c.tokens != nil {
		tok, err := c.tokens.token(ctx)
		if err != nil {
			if errors.Is(err, ErrAuth) {
				return 0, nil, err
			}
			return 0, nil, fmt.Errorf("%w: %w", errTokenFetch, err)
		}
		c.secrets.add(tok)
		hr.Header.Set("Authorization", "Bearer "+tok)
	}
	start := c.cfg.Now()
	resp, err := c.hc.Do(hr)
	if err != nil {
		c.log.Debug("ai: request failed", "op", req.op, "method", req.method, "path", req.path, "err", c.secrets.scrubErr(err))
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return 0, nil, fmt.Errorf("read answer: %w", err)
	}
	c.log.Debug("ai: request", "op", req.op, "method", req.method, "path", req.path,
		"status", resp.StatusCode, "duration", c.cfg.Now().Sub(start))
	return resp.StatusCode, data, nil
}
