package pxe

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/liveness"
)

// runLive runs a server for cfg with its listeners beating in reg until the test ends.
func runLive(t *testing.T, cfg Config, reg *liveness.Registry) *Server {
	t.Helper()
	s, err := New(cfg, &memDocs{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.SetLiveness(reg)
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
	}
	return s
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 1200 { // a generous bound for a loaded machine, not a timing check
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("gave up waiting for %s", what)
}

// TestListenersBeatWhileIdle: with no client at all, the TFTP listener beats on its probes and
// the HTTP listener on its accept wake-ups; the probes leave no trace in the TFTP metrics.
func TestListenersBeatWhileIdle(t *testing.T) {
	root := t.TempDir()
	port := freePort(t)
	at := netip.AddrPortFrom(lo, port)
	cfg := Config{TFTPRoot: root, CacheDir: t.TempDir(), TFTPListen: []netip.AddrPort{at}, HTTPListen: []netip.AddrPort{at}}
	reg := liveness.New(time.Second)
	s := runLive(t, cfg, reg)
	names := []string{"pxe tftp " + at.String(), "pxe http " + at.String()}
	beats := func() map[string]uint64 {
		out := map[string]uint64{}
		for _, l := range reg.Loops() {
			out[l.Name] = l.Beats
		}
		return out
	}
	start := beats()
	waitUntil(t, "both listeners to beat", func() bool {
		now := beats()
		return now[names[0]] >= start[names[0]]+3 && now[names[1]] >= start[names[1]]+3
	})
	if n := counter(s.m.tftpErrors.WithLabelValues("not_found")) + counter(s.m.tftpErrors.WithLabelValues("bad_name")); n != 0 {
		t.Errorf("probes counted as %v TFTP errors", n)
	}
}

// TestPrepareReloadBindsFirst: a reload whose new HTTP address is taken is refused and the
// server serves as before; one with free addresses moves the listeners, and the old address
// stops answering.
func TestPrepareReloadBindsFirst(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "undionly.kpxe"), []byte("ipxe"), 0o600); err != nil {
		t.Fatal(err)
	}
	first := netip.AddrPortFrom(lo, freePort(t))
	cfg := Config{TFTPRoot: root, CacheDir: t.TempDir(), TFTPListen: []netip.AddrPort{first}, HTTPListen: []netip.AddrPort{first}}
	s := runLive(t, cfg, nil)
	base := "http://" + first.String()
	if code, _ := get(t, base+"/boot.ipxe"); code != 200 {
		t.Fatalf("GET /boot.ipxe = %d", code)
	}

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	bad := cfg
	bad.Unknown = UnknownRetry
	bad.HTTPListen = []netip.AddrPort{first, taken.Addr().(*net.TCPAddr).AddrPort()}
	if err := s.Reload(bad); err == nil || !strings.Contains(err.Error(), "http: listen on "+taken.Addr().String()) {
		t.Fatalf("Reload onto a taken address: %v", err)
	}
	if s.cfg.Load().Unknown != UnknownExit {
		t.Error("a refused reload changed the configuration")
	}
	if code, _ := get(t, base+"/boot.ipxe"); code != 200 {
		t.Fatalf("after a refused reload GET /boot.ipxe = %d", code)
	}

	moved := netip.AddrPortFrom(lo, freePort(t))
	next := cfg
	next.TFTPListen, next.HTTPListen = []netip.AddrPort{moved}, []netip.AddrPort{moved}
	if err := s.Reload(next); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, "http://"+moved.String()+"/boot.ipxe"); code != 200 {
		t.Fatalf("GET on the new address = %d", code)
	}
	if c, err := net.Dial("tcp", first.String()); err == nil {
		c.Close()
		t.Error("the old HTTP address still accepts connections")
	}
}
