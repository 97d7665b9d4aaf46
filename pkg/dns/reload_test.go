package dns

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/liveness"
	mdns "github.com/miekg/dns"
)

// runWith runs a server for cfg with its loops beating in reg until the test ends.
func runWith(t *testing.T, cfg Config, reg *liveness.Registry) *Server {
	t.Helper()
	s, err := New(cfg, nil, nil)
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
		done <- err
		t.Fatalf("Run: %v", err)
	}
	return s
}

// waitUntil polls cond; the bound is generous for a loaded machine, not a timing check.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 1200 {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("gave up waiting for %s", what)
}

// TestReloadMovesListeners: a reload that adds a listen address serves it, one that drops an
// address stops serving there; the zone changes with it.
func TestReloadMovesListeners(t *testing.T) {
	first, second := netip.MustParseAddrPort("127.0.0.1:0"), netip.MustParseAddrPort("127.0.0.2:0")
	cfg := labConfig()
	cfg.Listen = []netip.AddrPort{first}
	s := runWith(t, cfg, nil)
	old := s.Addrs()[0]

	both := labConfig()
	both.Listen = []netip.AddrPort{first, second}
	both.Zones[0].Records = append(both.Zones[0].Records, Record{Name: "added.mycluster.contrail.lan.", Type: TypeA, Value: "172.16.0.200"})
	if err := s.Reload(both); err != nil {
		t.Fatal(err)
	}
	addrs := s.Addrs()
	if len(addrs) != 2 || addrs[0] != old || addrs[1].Addr() != second.Addr() {
		t.Fatalf("addresses after adding one: %v (first was %v)", addrs, old)
	}
	for _, network := range []string{"udp", "tcp"} {
		if r := query(t, addrs[1], network, "added.mycluster.contrail.lan.", mdns.TypeA); len(r.Answer) != 1 {
			t.Errorf("new listener over %s: %v", network, r)
		}
	}

	only := both
	only.Listen = []netip.AddrPort{second}
	if err := s.Reload(only); err != nil {
		t.Fatal(err)
	}
	if got := s.Addrs(); !slices.Equal(got, addrs[1:]) {
		t.Fatalf("addresses after dropping the first: %v, want %v", got, addrs[1:])
	}
	c := &mdns.Client{Net: "tcp", Timeout: 2 * time.Second}
	m := new(mdns.Msg)
	m.SetQuestion("api.mycluster.contrail.lan.", mdns.TypeA)
	if _, _, err := c.Exchange(m, old.String()); err == nil {
		t.Error("the dropped listener still answers over TCP")
	}
}

// TestPrepareReloadRefusesTakenAddress: a new listen address someone else holds refuses the
// whole reload; the server keeps its zones and listeners.
func TestPrepareReloadRefusesTakenAddress(t *testing.T) {
	cfg := labConfig()
	cfg.Listen = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}
	s := runWith(t, cfg, nil)
	taken, err := net.Listen("tcp", "127.0.0.3:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	next := labConfig()
	next.Listen = append(cfg.Listen, taken.Addr().(*net.TCPAddr).AddrPort())
	next.Zones[0].Records = append(next.Zones[0].Records, Record{Name: "added.mycluster.contrail.lan.", Type: TypeA, Value: "172.16.0.200"})
	_, err = s.PrepareReload(next)
	if err == nil || !strings.Contains(err.Error(), "listen tcp "+taken.Addr().String()) {
		t.Fatalf("PrepareReload onto a taken address: %v", err)
	}
	if len(s.Addrs()) != 1 {
		t.Errorf("addresses after a refused reload: %v", s.Addrs())
	}
	if r := query(t, s.Addrs()[0], "udp", "added.mycluster.contrail.lan.", mdns.TypeA); r.Rcode != mdns.RcodeNameError {
		t.Errorf("a refused reload changed the zone: %v", r)
	}
	staged, err := s.PrepareReload(labConfig()) // no listeners at all...
	if err != nil {
		t.Fatal(err)
	}
	staged.Discard() // ...discarded: nothing changes
	if r := query(t, s.Addrs()[0], "tcp", "api.mycluster.contrail.lan.", mdns.TypeA); len(r.Answer) != 1 {
		t.Errorf("after Discard: %v", r)
	}
}

// stuckUpstream is a resolver that answers nothing until released.
type stuckUpstream struct {
	conn    net.PacketConn
	queries chan stuckQuery
}

type stuckQuery struct {
	msg  *mdns.Msg
	from net.Addr
}

func newStuckUpstream(t *testing.T) *stuckUpstream {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	u := &stuckUpstream{conn: conn, queries: make(chan stuckQuery, 16)}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			m := new(mdns.Msg)
			if m.Unpack(buf[:n]) == nil {
				u.queries <- stuckQuery{m, from}
			}
		}
	}()
	return u
}

// release answers n queries it holds with SERVFAIL.
func (u *stuckUpstream) release(t *testing.T, n int) {
	t.Helper()
	for range n {
		q := <-u.queries
		resp := new(mdns.Msg)
		resp.SetRcode(q.msg, mdns.RcodeServerFailure)
		wire, err := resp.Pack()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := u.conn.WriteTo(wire, q.from); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLoopsBeatIdleAndWedge: idle UDP readers and TCP listeners keep beating; a query stuck
// on an upstream that does not answer (the lab allows it an hour) wedges the loop that took
// it, over UDP and over TCP alike, until the upstream answers.
func TestLoopsBeatIdleAndWedge(t *testing.T) {
	up := newStuckUpstream(t)
	reg := liveness.New(2 * time.Second)
	cfg := labConfig()
	cfg.Listen = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}
	cfg.UDPSockets = 1
	cfg.Forwarders = []netip.AddrPort{up.conn.LocalAddr().(*net.UDPAddr).AddrPort()}
	cfg.UpstreamTimeout = time.Hour
	s := runWith(t, cfg, reg)
	addr := s.Addrs()[0]
	udp, tcp := "dns udp "+addr.String()+" #1", "dns tcp "+addr.String()
	beats := func() map[string]uint64 {
		out := map[string]uint64{}
		for _, l := range reg.Loops() {
			out[l.Name] = l.Beats
		}
		return out
	}
	start := beats()
	waitUntil(t, "idle loops to beat", func() bool { now := beats(); return now[udp] >= start[udp]+3 && now[tcp] >= start[tcp]+3 })

	answered := make(chan int, 2)
	for _, network := range []string{"udp", "tcp"} {
		go func() {
			m := new(mdns.Msg)
			m.SetQuestion(network+".example.", mdns.TypeA)
			c := &mdns.Client{Net: network, Timeout: time.Hour}
			r, _, err := c.Exchange(m, addr.String())
			if err != nil {
				t.Errorf("query over %s: %v", network, err)
				answered <- -1
				return
			}
			answered <- r.Rcode
		}()
	}
	var checked error
	waitUntil(t, "both loops to be reported wedged", func() bool {
		checked = reg.Check()
		return checked != nil && strings.Contains(checked.Error(), udp+": a piece of its work has run for") &&
			strings.Contains(checked.Error(), tcp+": a piece of its work has run for")
	})
	if strings.Contains(checked.Error(), "no beat") {
		t.Errorf("the loops themselves stopped beating: %v", checked)
	}
	up.release(t, 2)
	for range 2 {
		if rcode := <-answered; rcode != mdns.RcodeServerFailure {
			t.Errorf("after the upstream answered: rcode %d", rcode)
		}
	}
	waitUntil(t, "the loops to be alive again", func() bool { return reg.Check() == nil })
}
