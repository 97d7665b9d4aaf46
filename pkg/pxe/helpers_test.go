package pxe

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/freeport"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// memDocs is an in-memory DocStore.
type memDocs struct {
	mu sync.Mutex
	m  map[string]json.RawMessage
}

func (d *memDocs) PutDoc(kind, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.m = map[string]json.RawMessage{}
	}
	d.m[kind+"/"+key] = b
	return nil
}

func (d *memDocs) GetDoc(kind, key string, v any) (bool, error) {
	d.mu.Lock()
	b, ok := d.m[kind+"/"+key]
	d.mu.Unlock()
	if !ok {
		return false, nil
	}
	return true, json.Unmarshal(b, v)
}

func (d *memDocs) Docs(kind string) (map[string]json.RawMessage, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]json.RawMessage{}
	for k, v := range d.m {
		if len(k) > len(kind) && k[:len(kind)+1] == kind+"/" {
			out[k[len(kind)+1:]] = v
		}
	}
	return out, nil
}

// freePort returns a loopback port that was free a moment ago (UDP and TCP).
func freePort(t *testing.T) uint16 {
	t.Helper()
	port, err := freeport.Port()
	if err != nil {
		t.Fatal(err)
	}
	return uint16(port)
}

var lo = netip.MustParseAddr("127.0.0.1")

// startServer runs a Server on loopback (TFTP and HTTP on the same free port) until the test
// ends; cfg's listeners and cache folder are filled in when empty.
func startServer(t *testing.T, cfg Config) (*Server, *prometheus.Registry, uint16) {
	t.Helper()
	port := freePort(t)
	if cfg.TFTPListen == nil && cfg.TFTPRoot != "" {
		cfg.TFTPListen = []netip.AddrPort{netip.AddrPortFrom(lo, port)}
	}
	if cfg.HTTPListen == nil {
		cfg.HTTPListen = []netip.AddrPort{netip.AddrPortFrom(lo, port)}
	}
	if cfg.CacheDir == "" {
		cfg.CacheDir = t.TempDir()
	}
	reg := prometheus.NewRegistry()
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := New(cfg, &memDocs{}, reg, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-s.Ready():
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server not ready")
	}
	return s, reg, port
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

func needTool(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s on PATH; run scripts/install-test-deps.sh", tool)
		}
	}
}

func writeFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// counter reads a counter's value.
func counter(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}
