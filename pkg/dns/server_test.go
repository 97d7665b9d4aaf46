package dns

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

func TestRunServesUDPAndTCP(t *testing.T) {
	cfg := labConfig()
	cfg.UDPSockets = 2
	_, addr := startServer(t, cfg)
	for _, network := range []string{"udp", "tcp"} {
		r := query(t, addr, network, "api.mycluster.contrail.lan.", mdns.TypeA)
		if r.Rcode != 0 || len(r.Answer) != 1 || !r.Authoritative {
			t.Errorf("%s: %v", network, r)
		}
	}
}

func TestRunBindError(t *testing.T) {
	_, addr := startServer(t, labConfig())
	cfg := labConfig()
	cfg.Listen = []netip.AddrPort{addr} // taken (TCP, and UDP without our SO_REUSEPORT peer's uid check aside)
	cfg.UDPSockets = 1
	s, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "listen") {
		t.Fatalf("Run on a taken address: %v, want a listen error", err)
	}
}

// TestReloadDropsNothing reloads the zone while clients query: every query
// gets an answer, from either the old or the new zone.
func TestReloadDropsNothing(t *testing.T) {
	base := labConfig()
	base.Listen = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")} // as startServer listens
	s, addr := startServer(t, base)
	newCfg := labConfig()
	newCfg.Listen = base.Listen
	newCfg.Zones[0].Records = append(newCfg.Zones[0].Records, Record{Name: "added.mycluster.contrail.lan.", Type: TypeA, Value: "172.16.0.200"})

	const clients, perClient = 4, 200
	var wg sync.WaitGroup
	errs := make(chan error, clients*perClient)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &mdns.Client{Net: "tcp"} // no loss on loopback TCP: any failure is ours
			for range perClient {
				m := new(mdns.Msg)
				m.SetQuestion("api.mycluster.contrail.lan.", mdns.TypeA)
				r, _, err := c.Exchange(m, addr.String())
				if err == nil && (r.Rcode != 0 || len(r.Answer) != 1) {
					err = &unexpected{r}
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := range 50 {
		cfg := base
		if i%2 == 0 {
			cfg = newCfg
		}
		if err := s.Reload(cfg); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Reload(newCfg); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("query during reload: %v", err)
	}
	r := query(t, addr, "udp", "added.mycluster.contrail.lan.", mdns.TypeA)
	if len(r.Answer) != 1 {
		t.Errorf("after reload: %v", r)
	}
	if err := s.Reload(Config{Zones: []Zone{{Origin: "bad"}}}); err == nil {
		t.Error("Reload accepted an invalid config")
	}
	if r := query(t, addr, "udp", "added.mycluster.contrail.lan.", mdns.TypeA); len(r.Answer) != 1 {
		t.Errorf("a failed reload changed the zone: %v", r)
	}
}

type unexpected struct{ m *mdns.Msg }

func (u *unexpected) Error() string { return "unexpected answer: " + u.m.String() }

// TestUDPFastPath checks that packed replies follow the dynamic names and
// the client's right to recurse, and that forwarded queries work over UDP.
func TestUDPFastPath(t *testing.T) {
	up := startUpstream(t, example)
	cfg := labConfig()
	cfg.Forwarders = []netip.AddrPort{up.addr}
	cfg.UDPSockets = 2
	s, addr := startServer(t, cfg)
	const name = "late.mycluster.contrail.lan."
	for range 2 { // the second answer is the packed one
		if r := query(t, addr, "udp", name, mdns.TypeA); r.Rcode != mdns.RcodeNameError || !r.Authoritative || !r.RecursionAvailable {
			t.Fatalf("before Set: %v", r)
		}
	}
	if err := s.Names().Claim("02:00:00:00:00:80", "late", netip.MustParseAddr("172.16.0.80"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if r := query(t, addr, "udp", name, mdns.TypeA); r.Rcode != 0 || len(r.Answer) != 1 {
		t.Fatalf("after Set: %v", r)
	}
	s.Names().Remove("late")
	if r := query(t, addr, "udp", name, mdns.TypeA); r.Rcode != mdns.RcodeNameError {
		t.Fatalf("after Remove: %v", r)
	}
	// Same question, different client rights: RA differs, so does the key.
	m := new(mdns.Msg)
	m.SetQuestion("api.mycluster.contrail.lan.", mdns.TypeA)
	st := s.state.Load()
	lab, _ := keyOf(m)
	lab.ra = st.fwd != nil && st.recursionAllowed(netip.MustParseAddr("172.16.0.20"))
	outside, _ := keyOf(m)
	outside.ra = st.fwd != nil && st.recursionAllowed(netip.MustParseAddr("192.0.2.20"))
	if lab == outside {
		t.Error("lab and outside clients share a packed reply (RA would leak)")
	}
	for i := range 2 {
		r := query(t, addr, "udp", "www.example.", mdns.TypeA)
		if r.Rcode != 0 || len(r.Answer) != 1 || r.Authoritative {
			t.Fatalf("forwarded over UDP (%d): %v", i, r)
		}
	}
	if up.hits() != 1 {
		t.Errorf("upstream asked %d times, want 1", up.hits())
	}
}
