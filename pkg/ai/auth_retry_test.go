package ai_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/aisim"
	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
)

func authHarness(t *testing.T, expiredStatus int) *harness {
	return newHarness(t, aisim.Options{Auth: &aisim.Auth{OfflineTokens: []string{offlineToken}, ExpiredStatus: expiredStatus}},
		ai.Config{OfflineToken: offlineToken})
}

func TestAuthRefreshBeforeExpiry(t *testing.T) {
	h := authHarness(t, 0)
	if _, err := h.c.ListClusters(h.ctx, false); err != nil {
		t.Fatal(err)
	}
	if _, err := h.c.ListClusters(h.ctx, false); err != nil {
		t.Fatal(err)
	}
	if g := h.sim.Stats().TokenGrants; g != 1 {
		t.Fatalf("token grants %d, want 1 (cached)", g)
	}
	// 14m30s later the 15-minute token has less than the 60s margin left: refresh first.
	h.clock.Advance(14*time.Minute + 30*time.Second)
	before := h.sim.Stats().Requests
	if _, err := h.c.ListClusters(h.ctx, false); err != nil {
		t.Fatal(err)
	}
	if s := h.sim.Stats(); s.TokenGrants != 2 || s.Requests != before+1 {
		t.Fatalf("stats %+v: want a refresh and no refused request", s)
	}
}

func TestAuthRefreshOnRefusal(t *testing.T) {
	for _, status := range []int{http.StatusUnauthorized, http.StatusBadRequest} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			h := authHarness(t, status)
			cl := h.registerCluster("c", true)
			h.sim.ExpireAccessTokens() // the client still believes its token is valid
			// Even a non-idempotent call is repeated once: the service refused it at the door.
			if _, err := h.c.InstallCluster(h.ctx, cl.ID); !errors.Is(err, ai.ErrConflict) {
				t.Fatalf("install: %v, want the 409 behind the refreshed token", err)
			}
			if g := h.sim.Stats().TokenGrants; g != 2 {
				t.Fatalf("token grants %d, want 2", g)
			}
		})
	}
}

func TestAuthRevokedOfflineToken(t *testing.T) {
	h := authHarness(t, 0)
	h.sim.RevokeOfflineToken(offlineToken)
	_, err := h.c.ListClusters(h.ctx, false)
	if !errors.Is(err, ai.ErrAuth) || !strings.Contains(err.Error(), "invalid_grant") || !strings.Contains(err.Error(), "console.redhat.com") {
		t.Fatalf("err %v", err)
	}
	if strings.Contains(err.Error(), offlineToken) {
		t.Fatal("offline token in the error")
	}
	if n := h.sim.Stats().Requests; n != 0 {
		t.Fatalf("%d API requests without a token", n)
	}
}

func TestNoAuthSendsNoHeader(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			t.Error("Authorization header without a token")
		}
		w.Write([]byte("[]"))
	}))
	defer srv.Close()
	c, _ := ai.New(ai.Config{URL: srv.URL})
	if _, err := c.ListClusters(context.Background(), false); err != nil {
		t.Fatal(err)
	}
}

func TestRetries(t *testing.T) {
	h := newHarness(t, aisim.Options{}, ai.Config{MaxAttempts: 4})
	cl := h.registerCluster("c", true)

	// Idempotent GET: two injected 503s, then success.
	h.sim.FailNext(2, http.StatusServiceUnavailable)
	base := h.sim.Stats().Requests
	if _, err := h.c.GetCluster(h.ctx, cl.ID, true); err != nil {
		t.Fatalf("get after 5xx: %v", err)
	}
	if n := h.sim.Stats().Requests - base; n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
	// Persistent 5xx: gives up after MaxAttempts with a typed error.
	h.sim.FailNext(10, http.StatusInternalServerError)
	base = h.sim.Stats().Requests
	_, err := h.c.GetCluster(h.ctx, cl.ID, true)
	if !errors.Is(err, ai.ErrUnavailable) || h.sim.Stats().Requests-base != 4 {
		t.Errorf("persistent 5xx: %v after %d attempts", err, h.sim.Stats().Requests-base)
	}
	h.sim.FailNext(0, 0)

	// Not idempotent: register is not repeated after a 5xx.
	h.sim.FailNext(1, http.StatusInternalServerError)
	base = h.sim.Stats().Requests
	if _, err := h.c.RegisterCluster(h.ctx, ai.ClusterCreateParams{Name: "d", OpenshiftVersion: "4.14", PullSecret: testPullSecret}); !errors.Is(err, ai.ErrUnavailable) {
		t.Errorf("register after 5xx: %v", err)
	}
	if n := h.sim.Stats().Requests - base; n != 1 {
		t.Errorf("register sent %d times", n)
	}
	// A 409 is an answer, not a fault: never retried.
	base = h.sim.Stats().Requests
	var apiErr *ai.APIError
	if _, err := h.c.InstallCluster(h.ctx, cl.ID); !errors.As(err, &apiErr) || apiErr.Status != 409 || !strings.Contains(apiErr.Reason, "not ready") {
		t.Errorf("install: %v", err)
	}
	if n := h.sim.Stats().Requests - base; n != 1 {
		t.Errorf("409 sent %d times", n)
	}
}

func TestTimeoutRetried(t *testing.T) {
	h := newHarness(t, aisim.Options{}, ai.Config{RequestTimeout: 200 * time.Millisecond})
	cl := h.registerCluster("c", true)
	h.sim.StallNext(1) // hangs until the client's per-request timeout fires
	if _, err := h.c.GetCluster(h.ctx, cl.ID, true); err != nil {
		t.Fatalf("get after a stalled attempt: %v", err)
	}
	// Cancelled context: no retry loop, the context's error.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.c.GetCluster(ctx, cl.ID, true); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// TestSecretsNotInErrors: a service that echoes the request must not leak the pull secret
// or the token into Go errors.
func TestSecretsNotInErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/token") {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"access_token":"access-token-abcdefghijkl","token_type":"Bearer","expires_in":900}`))
			return
		}
		var b strings.Builder
		b.WriteString(`{"kind":"Error","id":400,"href":"","code":"400","reason":"bad: `)
		buf := make([]byte, 4096)
		n, _ := r.Body.Read(buf)
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(string(buf[:n]), `\`, `\\`), `"`, `\"`))
		b.WriteString(" auth " + r.Header.Get("Authorization") + `"}`)
		w.WriteHeader(400)
		w.Write([]byte(b.String()))
	}))
	defer srv.Close()
	c, _ := ai.New(ai.Config{URL: srv.URL, OfflineToken: offlineToken, TokenURL: srv.URL + "/token"})
	_, err := c.RegisterCluster(context.Background(), ai.ClusterCreateParams{Name: "x", OpenshiftVersion: "4.14", PullSecret: testPullSecret})
	if err == nil {
		t.Fatal("no error")
	}
	for _, secret := range []string{testPullSecret, "access-token-abcdefghijkl", offlineToken} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("secret %q in error: %v", secret[:8], err)
		}
	}
	if !errors.Is(err, ai.ErrBadRequest) || !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("err %v", err)
	}
}

// TestRetry429: the API gateway's 429 (not in the spec) is retried like a 5xx.
func TestRetry429(t *testing.T) {
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		if n == 1 {
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.Write([]byte("[]"))
	}))
	defer srv.Close()
	c, _ := ai.New(ai.Config{URL: srv.URL, Sleep: func(ctx context.Context, _ time.Duration) error { return nil }})
	if _, err := c.ListClusters(context.Background(), false); err != nil || n != 2 {
		t.Fatalf("err %v after %d attempts", err, n)
	}
}

// TestRetryWaitsThroughSleep: the waits between tries go through the injected Sleep, grow
// exponentially with jitter, and there is one fewer than the tries.
func TestRetryWaitsThroughSleep(t *testing.T) {
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	var waits []time.Duration
	c, _ := ai.New(ai.Config{URL: srv.URL, MaxAttempts: 4, BackoffBase: 100 * time.Millisecond, BackoffMax: 300 * time.Millisecond,
		Sleep: func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return nil }})
	if _, err := c.ListClusters(context.Background(), false); !errors.Is(err, ai.ErrUnavailable) || n != 4 {
		t.Fatalf("err %v after %d tries", err, n)
	}
	if len(waits) != 3 {
		t.Fatalf("waits %v, want 3", waits)
	}
	for i, w := range waits {
		if hi := min(100*time.Millisecond<<i, 300*time.Millisecond); w < 50*time.Millisecond || w > hi {
			t.Errorf("wait %d = %s, want within [50ms, %s]", i+1, w, hi)
		}
	}
}

// TestCertificateErrorNotRetried: a service whose certificate no CA vouches for fails at once,
// the API call and the token fetch alike.
func TestCertificateErrorNotRetried(t *testing.T) {
	var mu sync.Mutex
	conns := 0
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("[]")) }))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			mu.Lock()
			conns++
			mu.Unlock()
		}
	}
	srv.StartTLS()
	defer srv.Close()
	for _, cfg := range []ai.Config{
		{URL: srv.URL},
		{URL: srv.URL, OfflineToken: offlineToken, TokenURL: srv.URL + "/token"},
	} {
		mu.Lock()
		conns = 0
		mu.Unlock()
		cfg.Sleep = func(ctx context.Context, _ time.Duration) error { return nil }
		c, _ := ai.New(cfg)
		_, err := c.ListClusters(context.Background(), false)
		mu.Lock()
		n := conns
		mu.Unlock()
		if err == nil || !strings.Contains(err.Error(), "certificate") || n != 1 {
			t.Fatalf("token %t: err %v after %d connections, want a certificate error after 1", cfg.OfflineToken != "", err, n)
		}
	}
}
