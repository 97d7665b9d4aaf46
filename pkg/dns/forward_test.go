package dns

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// upstream is a miekg/dns server the test runs on a loopback port (UDP and
// TCP), counting the queries it gets.
type upstream struct {
	addr    netip.AddrPort
	udpHits atomic.Int64
	tcpHits atomic.Int64
}

func (u *upstream) hits() int64 { return u.udpHits.Load() + u.tcpHits.Load() }

// startUpstream answers with answer(q, tcp); nil means no reply at all.
func startUpstream(t *testing.T, answer func(r *mdns.Msg, tcp bool) *mdns.Msg) *upstream {
	t.Helper()
	u := &upstream{}
	pc, l := listenUDPAndTCP(t)
	u.addr = pc.LocalAddr().(*net.UDPAddr).AddrPort()
	h := mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		_, tcp := w.RemoteAddr().(*net.TCPAddr)
		if tcp {
			u.tcpHits.Add(1)
		} else {
			u.udpHits.Add(1)
		}
		if m := answer(r, tcp); m != nil {
			_ = w.WriteMsg(m)
		}
	})
	for _, srv := range []*mdns.Server{{PacketConn: pc, Handler: h}, {Listener: l, Handler: h}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		done := make(chan struct{})
		go func() { defer close(done); _ = srv.ActivateAndServe() }()
		<-started
		t.Cleanup(func() { _ = srv.Shutdown(); <-done })
	}
	return u
}

// listenUDPAndTCP binds one loopback port for both UDP and TCP. The port
// the kernel picks for UDP may be taken for TCP by another test, so it
// tries again rather than failing.
func listenUDPAndTCP(t *testing.T) (net.PacketConn, net.Listener) {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, l
		}
		pc.Close()
	}
	t.Fatal("no loopback port free for both UDP and TCP")
	return nil, nil
}

// downAddr is a loopback UDP port nobody listens on.
func downAddr(t *testing.T) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	pc.Close()
	return a
}

// example answers A queries with 192.0.2.1 (TTL 300), "missing.example."
// with NXDOMAIN and a SOA (TTL 3600, minimum 60), "nosoa.example." with a
// bare NXDOMAIN.
func example(r *mdns.Msg, _ bool) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetReply(r)
	q := r.Question[0]
	switch q.Name {
	case "missing.example.":
		m.Rcode = mdns.RcodeNameError
		soa, _ := mdns.NewRR("example. 3600 IN SOA ns.example. h.example. 1 2 3 4 60")
		m.Ns = []mdns.RR{soa}
	case "nosoa.example.":
		m.Rcode = mdns.RcodeNameError
	default:
		rr, _ := mdns.NewRR(q.Name + " 300 IN A 192.0.2.1")
		m.Answer = []mdns.RR{rr}
	}
	return m
}

// fakeClock is a settable clock for the cache.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func forwardingServer(t *testing.T, reg prometheus.Registerer, ups ...netip.AddrPort) (*Server, *fakeClock) {
	t.Helper()
	cfg := labConfig()
	cfg.Forwarders = ups
	cfg.UpstreamTimeout = 500 * time.Millisecond
	s, err := New(cfg, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{t: time.Unix(1_000_000, 0)}
	s.state.Load().fwd.cache.now = clk.now
	return s, clk
}

func TestForwardAndCache(t *testing.T) {
	up := startUpstream(t, example)
	reg := prometheus.NewRegistry()
	s, clk := forwardingServer(t, reg, up.addr)

	r := ask(t, s, "172.16.0.20", "www.example.", mdns.TypeA)
	if r.Rcode != 0 || len(r.Answer) != 1 || r.Authoritative || !r.RecursionAvailable {
		t.Fatalf("forwarded answer: %v", r)
	}
	clk.t = clk.t.Add(100 * time.Second)
	r = ask(t, s, "172.16.0.20", "WWW.example.", mdns.TypeA)
	if up.hits() != 1 {
		t.Errorf("upstream asked %d times, want 1 (second answer from the cache)", up.hits())
	}
	if len(r.Answer) != 1 || r.Answer[0].Header().Ttl != 200 {
		t.Errorf("cached answer %v, want TTL 300-100", r.Answer)
	}
	clk.t = clk.t.Add(200 * time.Second)
	ask(t, s, "172.16.0.20", "www.example.", mdns.TypeA)
	if up.hits() != 2 {
		t.Errorf("upstream asked %d times after the TTL ran out, want 2", up.hits())
	}

	// Negative caching: NXDOMAIN with a SOA for min(SOA TTL, minimum) = 60 s.
	for range 2 {
		r = ask(t, s, "127.0.0.1", "missing.example.", mdns.TypeA)
		if r.Rcode != mdns.RcodeNameError || len(r.Ns) != 1 {
			t.Fatalf("NXDOMAIN not passed on: %v", r)
		}
	}
	if up.hits() != 3 {
		t.Errorf("upstream asked %d times, want 3 (NXDOMAIN cached)", up.hits())
	}
	clk.t = clk.t.Add(61 * time.Second)
	ask(t, s, "127.0.0.1", "missing.example.", mdns.TypeA)
	if up.hits() != 4 {
		t.Errorf("upstream asked %d times after the negative TTL, want 4", up.hits())
	}
	// Without a SOA a negative answer is not cached (RFC 2308 section 5).
	ask(t, s, "127.0.0.1", "nosoa.example.", mdns.TypeA)
	ask(t, s, "127.0.0.1", "nosoa.example.", mdns.TypeA)
	if up.hits() != 6 {
		t.Errorf("upstream asked %d times, want 6 (SOA-less NXDOMAIN not cached)", up.hits())
	}

	for name, want := range map[string]float64{
		"cn2_appliance_dns_cache_hits_total":   2,
		"cn2_appliance_dns_cache_misses_total": 6,
	} {
		if got := metricSum(t, reg, name, nil); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if n := metricSeries(t, reg, "cn2_appliance_dns_upstream_duration_seconds"); n != 1 {
		t.Errorf("upstream histogram series %d, want 1", n)
	}
	// 8 queries so far: 3 NOERROR, 5 NXDOMAIN.
	aOK := map[string]string{"qtype": "A", "rcode": "NOERROR"}
	if got := metricSum(t, reg, "cn2_appliance_dns_queries_total", aOK); got != 3 {
		t.Errorf("queries{A,NOERROR} = %v, want 3", got)
	}
	s.metrics.query(12345, 99)
	if got := metricSum(t, reg, "cn2_appliance_dns_queries_total", map[string]string{"qtype": "other", "rcode": "other"}); got != 1 {
		t.Errorf("queries{other,other} = %v, want 1", got)
	}
}

func TestFailover(t *testing.T) {
	servfail := startUpstream(t, func(r *mdns.Msg, _ bool) *mdns.Msg {
		m := new(mdns.Msg)
		m.SetRcode(r, mdns.RcodeServerFailure)
		return m
	})
	good := startUpstream(t, example)
	reg := prometheus.NewRegistry()
	s, _ := forwardingServer(t, reg, downAddr(t), servfail.addr, good.addr)
	r := ask(t, s, "127.0.0.1", "www.example.", mdns.TypeA)
	if r.Rcode != 0 || len(r.Answer) != 1 {
		t.Fatalf("failover answer: %v", r)
	}
	if servfail.hits() != 1 || good.hits() != 1 {
		t.Errorf("hits servfail=%d good=%d, want 1 and 1", servfail.hits(), good.hits())
	}
	if n := metricSeries(t, reg, "cn2_appliance_dns_upstream_errors_total"); n != 2 {
		t.Errorf("upstream error series %d, want 2", n)
	}
}

func TestAllUpstreamsDown(t *testing.T) {
	silent := startUpstream(t, func(*mdns.Msg, bool) *mdns.Msg { return nil }) // times out
	s, _ := forwardingServer(t, nil, downAddr(t), silent.addr)
	r := ask(t, s, "127.0.0.1", "www.example.", mdns.TypeA)
	if r.Rcode != mdns.RcodeServerFailure {
		t.Fatalf("rcode %s, want SERVFAIL", mdns.RcodeToString[r.Rcode])
	}
	// SERVFAIL is not cached: the next query goes upstream again.
	ask(t, s, "127.0.0.1", "www.example.", mdns.TypeA)
	if silent.hits() != 2 {
		t.Errorf("silent upstream asked %d times, want 2", silent.hits())
	}
}

// bigAnswer has n A records for the question.
func bigAnswer(r *mdns.Msg, n int) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetReply(r)
	m.Compress = true
	for i := range n {
		rr, _ := mdns.NewRR(fmt.Sprintf("%s 300 IN A 198.51.100.%d", r.Question[0].Name, i))
		m.Answer = append(m.Answer, rr)
	}
	return m
}

func TestTCPRetryOnTruncation(t *testing.T) {
	up := startUpstream(t, func(r *mdns.Msg, tcp bool) *mdns.Msg {
		if !tcp {
			m := new(mdns.Msg)
			m.SetReply(r)
			m.Truncated = true
			return m
		}
		return bigAnswer(r, 100)
	})
	s, _ := forwardingServer(t, nil, up.addr)
	m := new(mdns.Msg)
	m.SetQuestion("big.example.", mdns.TypeA)
	r := s.respond(context.Background(), m, netip.MustParseAddr("127.0.0.1"), false) // client over TCP
	if len(r.Answer) != 100 || r.Truncated {
		t.Fatalf("got %d answers (TC %v), want all 100 after the TCP retry", len(r.Answer), r.Truncated)
	}
	if up.udpHits.Load() != 1 || up.tcpHits.Load() != 1 {
		t.Errorf("upstream udp=%d tcp=%d, want 1 and 1", up.udpHits.Load(), up.tcpHits.Load())
	}
}

func TestEDNSBufferSize(t *testing.T) {
	up := startUpstream(t, func(r *mdns.Msg, _ bool) *mdns.Msg { return bigAnswer(r, 60) }) // ~1000 bytes
	s, _ := forwardingServer(t, nil, up.addr)
	for _, tt := range []struct {
		name      string
		bufsize   uint16 // 0: no EDNS
		udp       bool
		truncated bool
	}{
		{"no EDNS: 512 bytes", 0, true, true},
		{"EDNS 512", 512, true, true},
		{"EDNS 4096", 4096, true, false},
		{"TCP", 0, false, false},
	} {
		m := new(mdns.Msg)
		m.SetQuestion("big.example.", mdns.TypeA)
		if tt.bufsize > 0 {
			m.SetEdns0(tt.bufsize, false)
		}
		r := s.respond(context.Background(), m, netip.MustParseAddr("127.0.0.1"), tt.udp)
		if r.Truncated != tt.truncated {
			t.Errorf("%s: TC %v, want %v", tt.name, r.Truncated, tt.truncated)
		}
		wire, err := r.Pack()
		if err != nil {
			t.Fatal(err)
		}
		limit := 65535
		if tt.udp {
			limit = max(512, int(tt.bufsize))
		}
		if len(wire) > limit {
			t.Errorf("%s: %d bytes, more than %d", tt.name, len(wire), limit)
		}
		if (tt.bufsize > 0) != (r.IsEdns0() != nil) {
			t.Errorf("%s: OPT in reply %v, want %v", tt.name, r.IsEdns0() != nil, tt.bufsize > 0)
		}
		if !tt.truncated && len(r.Answer) != 60 {
			t.Errorf("%s: %d answers, want 60", tt.name, len(r.Answer))
		}
	}
}
