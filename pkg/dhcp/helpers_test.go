package dhcp

import (
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/store"
	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/prometheus/client_golang/prometheus"
)

var (
	macM0  = mustMAC("52:54:00:00:00:11") // master-0 on ctrl
	macM0b = mustMAC("52:54:00:00:01:11") // master-0 on data
	macU1  = mustMAC("02:00:00:00:aa:01") // unknown
	macU2  = mustMAC("02:00:00:00:aa:02") // unknown
	tStart = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
)

func mustMAC(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

// labConfig is the example lab's two networks.
func labConfig() Config {
	a := netip.MustParseAddr
	return Config{
		LeaseTime: time.Hour,
		Networks: []Network{{
			Name: "ctrl", Interface: "srv-a", Subnet: netip.MustParsePrefix("172.16.0.0/24"),
			ServerIP: a("172.16.0.1"), Router: a("172.16.0.254"),
			Pool:       [2]netip.Addr{a("172.16.0.50"), a("172.16.0.99")},
			Domain:     "mycluster.contrail.lan",
			NTPServers: []netip.Addr{a("172.16.0.1")},
			Reservations: []Reservation{
				{MAC: macM0, IP: a("172.16.0.11"), Hostname: "master-0"},
				{MAC: mustMAC("52:54:00:00:00:12"), IP: a("172.16.0.12"), Hostname: "master-1"},
			},
			ServeUnknown: true,
			Boot: &Boot{HTTPBase: "http://172.16.0.1:8080", BIOSFile: "undionly.kpxe", UEFIFile: "ipxe.efi",
				ARM64File: "ipxe-arm64.efi", KnownOnly: true},
		}, {
			Name: "data", Interface: "srv-b", Subnet: netip.MustParsePrefix("10.16.0.0/24"),
			ServerIP: a("10.16.0.1"), MTU: 9000, Domain: "mycluster.contrail.lan",
			Reservations: []Reservation{{MAC: macM0b, IP: a("10.16.0.11"), Hostname: "master-0"}},
		}},
	}
}

// harness drives the handler without sockets: replies are captured, the
// store is a real one in a temp folder, the clock is fixed.
type harness struct {
	t    testing.TB
	s    *Server
	st   *store.Store
	now  time.Time
	mu   sync.Mutex
	sent []*reply
	evs  []LeaseEvent
}

func newHarness(t testing.TB, cfg Config) *harness {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := &harness{t: t, st: st, now: tStart}
	s, err := New(cfg, st, prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return h.now }
	s.sendFn = func(rs []*reply) []error {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.sent = append(h.sent, rs...)
		return make([]error, len(rs))
	}
	s.OnLease(func(ev LeaseEvent) { h.evs = append(h.evs, ev) })
	h.s = s
	return h
}

// do sends req in on iface and returns the reply (nil if none), after the
// commit its ops needed.
func (h *harness) do(iface string, req *dhcpv4.DHCPv4) *reply {
	h.t.Helper()
	h.mu.Lock()
	h.sent = nil
	h.mu.Unlock()
	j, queued := h.s.handle(iface, req)
	if queued {
		h.s.commitPending(h.s.answer)
	} else if j != nil && j.reply != nil {
		h.s.sendReply(j.reply)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.sent) == 0 {
		return nil
	}
	return h.sent[len(h.sent)-1]
}

func discover(mac net.HardwareAddr, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	d, err := dhcpv4.NewDiscovery(mac, mods...)
	if err != nil {
		panic(err)
	}
	return d
}

// request builds a REQUEST for ip: selecting (with server id) if sid is
// valid, else init-reboot (option 50 only).
func request(mac net.HardwareAddr, ip, sid netip.Addr, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	m := []dhcpv4.Modifier{dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), dhcpv4.WithHwAddr(mac)}
	if ip.IsValid() {
		m = append(m, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip4(ip))))
	}
	if sid.IsValid() {
		m = append(m, dhcpv4.WithOption(dhcpv4.OptServerIdentifier(ip4(sid))))
	}
	d, err := dhcpv4.New(append(m, mods...)...)
	if err != nil {
		panic(err)
	}
	return d
}

func msg(mt dhcpv4.MessageType, mac net.HardwareAddr, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	d, err := dhcpv4.New(append([]dhcpv4.Modifier{dhcpv4.WithMessageType(mt), dhcpv4.WithHwAddr(mac)}, mods...)...)
	if err != nil {
		panic(err)
	}
	return d
}

// dora runs DISCOVER + REQUEST and returns the ACKed address.
func (h *harness) dora(iface string, mac net.HardwareAddr, mods ...dhcpv4.Modifier) netip.Addr {
	h.t.Helper()
	off := h.do(iface, discover(mac, mods...))
	if off == nil || off.msg.MessageType() != dhcpv4.MessageTypeOffer {
		h.t.Fatalf("DISCOVER from %s on %s: no OFFER (%v)", mac, iface, off)
	}
	yi := addrOf(off.msg.YourIPAddr)
	ack := h.do(iface, request(mac, yi, addrOf(off.msg.ServerIdentifier()), mods...))
	if ack == nil || ack.msg.MessageType() != dhcpv4.MessageTypeAck {
		h.t.Fatalf("REQUEST %s from %s: no ACK (%v)", yi, mac, ack)
	}
	return addrOf(ack.msg.YourIPAddr)
}

func a4(s string) netip.Addr { return netip.MustParseAddr(s) }
