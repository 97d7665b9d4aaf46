package ntp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/facebook/time/ntp/protocol"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// fakeClock is a SyncSource the test sets.
type fakeClock struct {
	mu  sync.Mutex
	st  SyncState
	err error
}

func (c *fakeClock) SyncState() (SyncState, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st, c.err
}

func (c *fakeClock) set(st SyncState, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.st, c.err = st, err
}

var syncedState = SyncState{Synchronised: true, MaxError: 20 * time.Millisecond}

// runServer runs a server with cfg until the test ends; run calls Run in its goroutine (the
// namespace tests move that goroutine's thread into a network namespace first).
func runServer(t *testing.T, cfg Config, clock SyncSource, reg prometheus.Registerer, run func(func() error) error) *Server {
	t.Helper()
	s, err := New(cfg, clock, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(func() error { return s.Run(ctx) }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	select {
	case <-s.Ready():
	case err := <-done:
		t.Fatalf("run: %v", err)
	}
	return s
}

func inGoroutine(f func() error) error { return f() }

// exchange sends b to the server and reads one reply.
func exchange(t *testing.T, c *net.UDPConn, b []byte) *protocol.Packet {
	t.Helper()
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	if err := c.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no reply: %v", err)
	}
	p, err := protocol.BytesToPacket(buf[:n])
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestServerAnswersOnLoopback(t *testing.T) {
	clock := &fakeClock{st: syncedState}
	reg := prometheus.NewPedanticRegistry()
	s := runServer(t, Config{Listen: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}}, clock, reg, inGoroutine)
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(s.Addrs()[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// A monlist query (mode 7) gets nothing: the next reply is the one to the client request.
	if _, err := c.Write(request(t, 2, 7, time.Now())); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	p := exchange(t, c, request(t, 4, modeClient, sent))
	if protocol.Unix(p.OrigTimeSec, p.OrigTimeFrac).Sub(sent).Abs() > time.Microsecond {
		t.Fatalf("reply's origin %v is not the request's transmit time %v", protocol.Unix(p.OrigTimeSec, p.OrigTimeFrac), sent)
	}
	rx, txTime := protocol.Unix(p.RxTimeSec, p.RxTimeFrac), protocol.Unix(p.TxTimeSec, p.TxTimeFrac)
	if p.Stratum != SyncedStratum || p.Settings>>6 != 0 || txTime.Before(rx) {
		t.Errorf("synchronised: stratum %d LI %d, receive %v transmit %v", p.Stratum, p.Settings>>6, rx, txTime)
	}

	clock.set(SyncState{MaxError: 16 * time.Second}, nil)
	if p := exchange(t, c, request(t, 3, modeClient, time.Now())); p.Stratum != 16 || p.Settings>>6 != leapAlarm || p.Settings>>3&7 != 3 {
		t.Errorf("unsynchronised v3: stratum %d settings %#x", p.Stratum, p.Settings)
	}
	if err := s.Reload(Config{Listen: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}, LocalStratum: 8}); err != nil {
		t.Fatal(err)
	}
	if p := exchange(t, c, request(t, 4, modeClient, time.Now())); p.Stratum != 8 || p.Settings>>6 != 0 || p.ReferenceID != refIDLocal {
		t.Errorf("local stratum 8: stratum %d settings %#x refid %#x", p.Stratum, p.Settings, p.ReferenceID)
	}
	clock.set(SyncState{}, errors.New("adjtimex: operation not permitted"))
	if err := s.Reload(Config{Listen: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}}); err != nil {
		t.Fatal(err)
	}
	if p := exchange(t, c, request(t, 4, modeClient, time.Now())); p.Stratum != 16 {
		t.Errorf("sync state unreadable: stratum %d, want 16", p.Stratum)
	}

	for result, want := range map[string]float64{resultAnswered: 4, resultIgnored: 1, resultMalformed: 0} {
		if got := value(t, s.metrics.requests(result)); got != want {
			t.Errorf("requests{result=%q} = %v, want %v", result, got, want)
		}
	}
	for src, want := range map[string]float64{SourceHost: 1, SourceLocal: 1, SourceUnsynchronised: 2} {
		if got := value(t, s.metrics.answers.WithLabelValues(src)); got != want {
			t.Errorf("answers{source=%q} = %v, want %v", src, got, want)
		}
	}
	if got := value(t, s.metrics.stratum); got != 16 {
		t.Errorf("stratum gauge %v, want 16", got)
	}
	if _, err := reg.Gather(); err != nil {
		t.Error(err)
	}
}

// value reads a counter or gauge.
func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{{LocalStratum: 16}, {LocalStratum: -1}, {Listen: []netip.AddrPort{{}}}} {
		if _, err := New(cfg, &fakeClock{}, nil, nil); err == nil {
			t.Errorf("New(%+v) accepted it", cfg)
		}
	}
}

func TestBindError(t *testing.T) {
	taken, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	s, err := New(Config{Listen: []netip.AddrPort{taken.LocalAddr().(*net.UDPAddr).AddrPort()}}, &fakeClock{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(context.Background()); err == nil {
		t.Fatal("Run bound an address in use")
	} else {
		t.Log(err)
	}
}
