package dhcp

import (
	"context"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/liveness"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

// loopbackConfig is one network served on lo at a free port, reached through a relay's giaddr
// (as the rehearsal does): nothing leaves the host.
func loopbackConfig(t *testing.T) Config {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := c.LocalAddr().(*net.UDPAddr).Port
	c.Close()
	return Config{Port: port, LeaseTime: time.Hour, Networks: []Network{{
		Name: "lab", Interface: "lo", Subnet: netip.MustParsePrefix("127.77.0.0/24"), ServerIP: a4("127.77.0.1"),
		Reservations: []Reservation{{MAC: macM0, IP: a4("127.77.0.11"), Hostname: "master-0"}},
	}}}
}

// runOnLoopback runs a server with cfg, its loops beating in reg, until the test ends.
func runOnLoopback(t *testing.T, cfg Config, reg *liveness.Registry) *Server {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg, st, nil, nil)
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
		st.Close()
	})
	select {
	case <-s.Ready():
	case err := <-done:
		if os.Geteuid() != 0 { // binding to a device needs CAP_NET_RAW
			t.Skipf("needs root to serve DHCP bound to lo: %v", err)
		}
		t.Fatalf("serve DHCP on lo: %v", err)
	}
	return s
}

// relayRequest sends a relayed REQUEST for the reservation of mac to the server on lo.
func relayRequest(t *testing.T, port int, mac net.HardwareAddr, ip netip.Addr) {
	t.Helper()
	req := request(mac, ip, netip.Addr{}, dhcpv4.WithGatewayIP(net.ParseIP("127.77.0.254")))
	c, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(req.ToBytes()); err != nil {
		t.Fatal(err)
	}
}

func beatsOf(reg *liveness.Registry) map[string]uint64 {
	out := map[string]uint64{}
	for _, l := range reg.Loops() {
		out[l.Name] = l.Beats
	}
	return out
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

// TestLoopsBeatIdleAndWedge: with no traffic every loop keeps beating (read deadlines and
// tickers wake them); a lease listener that blocks wedges the loop that calls it, and the
// check names that loop until the listener returns.
func TestLoopsBeatIdleAndWedge(t *testing.T) {
	reg := liveness.New(2 * time.Second)
	cfg := loopbackConfig(t)
	s := runOnLoopback(t, cfg, reg)
	loops := []string{"dhcp read lo", "dhcp commit", "dhcp answer", "dhcp sweep"}
	start := beatsOf(reg)
	waitUntil(t, "idle loops to beat", func() bool {
		now := beatsOf(reg)
		for _, l := range loops {
			if now[l] < start[l]+3 {
				return false
			}
		}
		return true
	})

	called, release := make(chan LeaseEvent, 1), make(chan struct{})
	s.OnLease(func(e LeaseEvent) {
		called <- e
		<-release
	})
	relayRequest(t, cfg.Port, macM0, a4("127.77.0.11"))
	if e := <-called; e.Kind != EventBound || e.IP != a4("127.77.0.11") {
		t.Fatalf("lease event %+v", e)
	}
	var err error
	waitUntil(t, "the check to see the wedged loop", func() bool { err = reg.Check(); return err != nil })
	if !strings.Contains(err.Error(), "dhcp answer: no beat for") {
		t.Errorf("check: %v, want the answer loop named", err)
	}
	before := beatsOf(reg)["dhcp read lo"]
	waitUntil(t, "the reader to go on beating", func() bool { return beatsOf(reg)["dhcp read lo"] > before+2 })

	close(release)
	waitUntil(t, "the loop to beat again", func() bool { return reg.Check() == nil })
}

// TestPrepareReloadRefusesUnbindable: a new network on an interface that does not exist is
// refused while running, and the server goes on with what it had; Discard of a staged
// configuration changes nothing either.
func TestPrepareReloadRefusesUnbindable(t *testing.T) {
	cfg := loopbackConfig(t)
	s := runOnLoopback(t, cfg, nil)
	next := cfg
	next.Networks = append([]Network{}, cfg.Networks...)
	next.Networks = append(next.Networks, Network{Name: "gone", Interface: "cn2-nosuch0", Subnet: netip.MustParsePrefix("127.78.0.0/24"), ServerIP: a4("127.78.0.1")})
	_, err := s.PrepareReload(next)
	if err == nil || !strings.Contains(err.Error(), "cn2-nosuch0") {
		t.Fatalf("PrepareReload with a missing interface: %v", err)
	}
	if s.Reload(next) == nil {
		t.Fatal("Reload with a missing interface succeeded")
	}
	st, err := s.PrepareReload(Config{Port: cfg.Port, Networks: []Network{}})
	if err != nil {
		t.Fatal(err)
	}
	st.Discard()
	st.Apply() // after Discard: nothing
	s.mu.Lock()
	networks := len(s.cfg.networks)
	s.mu.Unlock()
	if networks != 1 {
		t.Fatalf("after refused and discarded reloads the server has %d networks, want its 1", networks)
	}
	// Still serving the old configuration: a lease is acknowledged and committed.
	got := make(chan LeaseEvent, 1)
	s.OnLease(func(e LeaseEvent) { got <- e })
	relayRequest(t, cfg.Port, macM0, a4("127.77.0.11"))
	if e := <-got; e.IP != a4("127.77.0.11") {
		t.Fatalf("lease %+v", e)
	}

	// A port change rebinds every socket.
	moved := loopbackConfig(t)
	if err := s.Reload(moved); err != nil {
		t.Fatal(err)
	}
	s.sockMu.RLock()
	port := s.socks["lo"].conn.LocalAddr().(*net.UDPAddr).Port
	s.sockMu.RUnlock()
	if port != moved.Port {
		t.Fatalf("after a port change the socket is on %d, want %d", port, moved.Port)
	}
}
