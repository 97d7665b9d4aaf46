package aisim

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/aisim/spec"
	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
)

// TokenPath is where the simulator serves its SSO-like token endpoint.
const TokenPath = "/auth/realms/redhat-external/protocol/openid-connect/token"

// Sim is the simulated service. It is an http.Handler; mount it at the root of a server
// (httptest.NewServer(sim) or Sim.ListenAndServe).
type Sim struct {
	opts    Options
	timings Timings
	spec    *spec.Spec
	mux     *http.ServeMux
	log     *slog.Logger
	closed  chan struct{}
	close   sync.Once

	mu                      sync.Mutex
	rng                     *mrand.Rand
	clusters                map[string]*cluster
	infraEnvs               map[string]*infraEnv
	hosts                   map[string]*host
	pending                 []pendingBoot
	events                  []ai.Event
	tokens                  map[string]time.Time // access token → expiry
	powerOffMACs            map[string]bool
	discoveryAfterWriteMACs map[string]bool
	notices                 []func() // hook calls waiting for the lock to be released
	tokenGrants             []time.Time
	failNext                int
	failStatus              int
	stallNext               int
	stats                   Stats
	hostCalls               map[string][]time.Time // host id → when an API call named it
	byMAC                   map[string]*host       // nil: rebuild (see index.go)
	changes                 uint64                 // bumped by every change a pre-install cluster depends on
	hostLists               map[string]hostList    // cluster id → its hosts, as of a value of changes
	csrSeq                  int
	violations              []error
}

// New returns a simulator. It fails only if the embedded spec does not load.
func New(opts Options) (*Sim, error) {
	sp, err := spec.Load()
	if err != nil {
		return nil, err
	}
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	if opts.ControlPlaneCount <= 0 {
		opts.ControlPlaneCount = 3
	}
	if opts.Auth != nil {
		a := *opts.Auth
		a.OfflineTokens = append([]string(nil), a.OfflineTokens...)
		if a.ExpiredStatus == 0 {
			a.ExpiredStatus = http.StatusUnauthorized
		}
		opts.Auth = &a
	}
	t := opts.Timings
	if t == (Timings{}) {
		t = DefaultTimings
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Sim{
		opts: opts, timings: t, spec: sp, log: log, closed: make(chan struct{}),
		rng:      mrand.New(mrand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		clusters: map[string]*cluster{}, infraEnvs: map[string]*infraEnv{}, hosts: map[string]*host{},
		tokens: map[string]time.Time{}, powerOffMACs: map[string]bool{}, discoveryAfterWriteMACs: map[string]bool{},
	}
	s.routes()
	return s, nil
}

// Close releases stalled requests. The simulator keeps answering afterwards.
func (s *Sim) Close() { s.close.Do(func() { close(s.closed) }) }

// ListenAndServe serves the simulator on addr (loopback only) until ctx ends.
func (s *Sim) ListenAndServe(ctx context.Context, addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("aisim: refusing to listen on %s: loopback only", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

// Serve serves the simulator on ln until ctx ends.
func (s *Sim) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		s.Close()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// ServeHTTP implements http.Handler: token endpoint, test control API, and the REST API
// behind auth, fault injection and spec checks.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer s.runNotices()
	switch {
	case r.URL.Path == TokenPath:
		s.serveToken(w, r)
		return
	case strings.HasPrefix(r.URL.Path, "/_sim/"):
		s.serveControl(w, r)
		return
	case !spec.InAPI(r.URL):
		s.mux.ServeHTTP(w, r) // downloads outside the API (ISO, boot artifacts)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	op := s.spec.OperationID(r)
	rec := &recorder{header: http.Header{}}
	s.serveAPI(rec, r, body, op)
	if rec.status == 0 && rec.body.Len() == 0 && r.Context().Err() != nil {
		return // the client gave up during an injected delay: nothing was answered
	}
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if binaryOps[op] {
		// These operations produce only application/octet-stream, errors included.
		rec.header.Set("Content-Type", "application/octet-stream")
	}
	if !s.opts.NoSpecCheck && op != "" {
		if err := s.spec.ValidateResponse(r.Context(), r, rec.status, rec.header, rec.body.Bytes()); err != nil {
			s.mu.Lock()
			s.violations = append(s.violations, err)
			s.mu.Unlock()
			s.log.Error("aisim: response violates the spec", "err", err)
		}
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.status)
	_, _ = w.Write(rec.body.Bytes())
}

func (s *Sim) serveAPI(w http.ResponseWriter, r *http.Request, body []byte, op string) {
	s.mu.Lock()
	s.stats.Requests++
	faults := s.opts.Faults
	stall := s.stallNext > 0
	if stall {
		s.stallNext--
	}
	fail := 0
	if s.failNext > 0 {
		s.failNext--
		fail = s.failStatus
	} else if faults.ErrorRate > 0 && s.rng.Float64() < faults.ErrorRate {
		fail = http.StatusServiceUnavailable
	}
	if fail != 0 || stall {
		s.stats.FaultsServed++
	}
	s.mu.Unlock()

	if stall {
		select {
		case <-r.Context().Done():
		case <-s.closed:
		}
		writeError(w, http.StatusServiceUnavailable, "stalled request released")
		return
	}
	if faults.Latency > 0 {
		select {
		case <-time.After(faults.Latency):
		case <-r.Context().Done():
			return
		}
	}
	if fail != 0 {
		if fail == http.StatusServiceUnavailable && !s.documents(r, fail) {
			fail = http.StatusInternalServerError
		}
		writeError(w, fail, "injected fault")
		return
	}
	if !s.authorized(w, r) {
		return
	}
	if op == "" {
		writeError(w, http.StatusNotFound, "no such API path: "+r.Method+" "+r.URL.Path)
		return
	}
	if !s.opts.NoSpecCheck {
		if err := s.spec.ValidateRequest(r.Context(), r, body); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	s.mux.ServeHTTP(w, r)
}

// documents reports whether the spec lists status for the request's operation.
func (s *Sim) documents(r *http.Request, status int) bool {
	return s.spec.ValidateResponse(r.Context(), r, status, http.Header{"Content-Type": {"application/json"}},
		[]byte(`{"kind":"Error","id":`+strconv.Itoa(status)+`,"href":"","code":"`+strconv.Itoa(status)+`","reason":"x"}`)) == nil
}

// binaryOps are the operations whose only content type is application/octet-stream.
var binaryOps = map[string]bool{"v2DownloadInfraEnvFiles": true, "V2DownloadClusterCredentials": true, "V2DownloadClusterLogs": true}

// recorder buffers a response so it can be checked against the spec before it is sent.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers with the service's error body: infra_error for 401/403, error otherwise.
func writeError(w http.ResponseWriter, status int, reason string) {
	if status == http.StatusUnauthorized || status == http.StatusForbidden {
		writeJSON(w, status, map[string]any{"code": status, "message": reason})
		return
	}
	writeJSON(w, status, map[string]any{
		"kind": "Error", "id": status, "href": "", "code": strconv.Itoa(status), "reason": reason,
	})
}

func (s *Sim) newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func (s *Sim) event(clusterID, hostID, severity, msg string, at time.Time) {
	e := ai.Event{Name: "aisim", Severity: severity, Category: "user", Message: msg, EventTime: at.UTC()}
	if clusterID != "" {
		c := clusterID
		e.ClusterID = &c
	}
	if hostID != "" {
		h := hostID
		e.HostID = &h
	}
	s.events = append(s.events, e)
	s.log.Debug("aisim: event", "msg", msg)
}

func jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

func itoa(i int) string { return strconv.Itoa(i) }
