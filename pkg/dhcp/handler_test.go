package dhcp

import (
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/store"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

func TestOptions(t *testing.T) {
	h := newHarness(t, labConfig())
	type want struct {
		yiaddr, router, mask, bcast, sid string
		dns, ntp                         []string
		domain, hostname                 string
		search                           []string
		mtu                              int
	}
	for _, tc := range []struct {
		name  string
		iface string
		mac   net.HardwareAddr
		want  want
	}{
		{"reserved on ctrl", "srv-a", macM0, want{
			yiaddr: "172.16.0.11", router: "172.16.0.254", mask: "ffffff00", bcast: "172.16.0.255", sid: "172.16.0.1",
			dns: []string{"172.16.0.1"}, ntp: []string{"172.16.0.1"}, domain: "mycluster.contrail.lan",
			hostname: "master-0", search: []string{"mycluster.contrail.lan"}}},
		{"pool on ctrl: no host name", "srv-a", macU1, want{
			yiaddr: "172.16.0.50", router: "172.16.0.254", mask: "ffffff00", bcast: "172.16.0.255", sid: "172.16.0.1",
			dns: []string{"172.16.0.1"}, ntp: []string{"172.16.0.1"}, domain: "mycluster.contrail.lan",
			search: []string{"mycluster.contrail.lan"}}},
		{"reserved on data: no router, MTU", "srv-b", macM0b, want{
			yiaddr: "10.16.0.11", mask: "ffffff00", bcast: "10.16.0.255", sid: "10.16.0.1",
			dns: []string{"10.16.0.1"}, domain: "mycluster.contrail.lan", hostname: "master-0",
			search: []string{"mycluster.contrail.lan"}, mtu: 9000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, req := range []*dhcpv4.DHCPv4{discover(tc.mac), request(tc.mac, a4(tc.want.yiaddr), netip.Addr{})} {
				r := h.do(tc.iface, req)
				if r == nil {
					t.Fatalf("%s: no reply", req.MessageType())
				}
				m := r.msg
				got := want{
					yiaddr: m.YourIPAddr.String(), mask: m.SubnetMask().String(), bcast: ipStr(m.BroadcastAddress()),
					sid: ipStr(m.ServerIdentifier()), dns: ipStrs(m.DNS()), ntp: ipStrs(m.NTPServers()),
					domain: m.DomainName(), hostname: m.HostName(),
				}
				if rs := m.Router(); len(rs) > 0 {
					got.router = rs[0].String()
				}
				if ds := m.DomainSearch(); ds != nil {
					got.search = ds.Labels
				}
				if v := m.Options.Get(dhcpv4.OptionInterfaceMTU); len(v) == 2 {
					got.mtu = int(v[0])<<8 | int(v[1])
				}
				if !equalWant(got, tc.want, func(a, b want) bool {
					return a.yiaddr == b.yiaddr && a.router == b.router && a.mask == b.mask && a.bcast == b.bcast &&
						a.sid == b.sid && slices.Equal(a.dns, b.dns) && slices.Equal(a.ntp, b.ntp) && a.domain == b.domain &&
						a.hostname == b.hostname && slices.Equal(a.search, b.search) && a.mtu == b.mtu
				}) {
					t.Errorf("%s reply options\n got %+v\nwant %+v", m.MessageType(), got, tc.want)
				}
				if lt := m.IPAddressLeaseTime(0); lt != time.Hour {
					t.Errorf("lease time %v", lt)
				}
				if t1, t2 := m.IPAddressRenewalTime(0), m.IPAddressRebindingTime(0); t1 != 30*time.Minute || t2 != 52*time.Minute+30*time.Second {
					t.Errorf("T1/T2 = %v/%v, want 30m/52m30s", t1, t2)
				}
				if r.dst.String() != "255.255.255.255:68" {
					t.Errorf("sent to %s, want broadcast", r.dst)
				}
			}
		})
	}
}

func equalWant[T any](a, b T, eq func(a, b T) bool) bool { return eq(a, b) }

func ipStr(ip net.IP) string {
	if ip == nil {
		return ""
	}
	return ip.String()
}

func ipStrs(ips []net.IP) []string {
	var out []string
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	return out
}

func TestUnknownClients(t *testing.T) {
	h := newHarness(t, labConfig())
	// data does not serve unknown MACs: silence, even for a REQUEST.
	if r := h.do("srv-b", discover(macU1)); r != nil {
		t.Errorf("unknown MAC on data got %s", r.msg.MessageType())
	}
	if r := h.do("srv-b", request(macU1, a4("10.16.0.77"), netip.Addr{})); r != nil {
		t.Errorf("unknown MAC REQUEST on data got %s", r.msg.MessageType())
	}
	// Unknown interface: silence.
	if r := h.do("eth9", discover(macM0)); r != nil {
		t.Errorf("unknown interface got %s", r.msg.MessageType())
	}
	// ctrl: distinct pool addresses, never a reserved one, same address again.
	ip1, ip2 := h.dora("srv-a", macU1), h.dora("srv-a", macU2)
	if ip1 == ip2 || !h.s.cfg.byName["ctrl"].inPool(ip1) || !h.s.cfg.byName["ctrl"].inPool(ip2) {
		t.Errorf("pool addresses %s, %s", ip1, ip2)
	}
	if again := h.dora("srv-a", macU1); again != ip1 {
		t.Errorf("second DORA of %s got %s, want %s", macU1, again, ip1)
	}
}

func TestRequestRules(t *testing.T) {
	sid := a4("172.16.0.1")
	for _, tc := range []struct {
		name  string
		setup func(h *harness)
		iface string
		req   *dhcpv4.DHCPv4
		want  dhcpv4.MessageType // MessageTypeNone: no reply
	}{
		{name: "reserved, right address", iface: "srv-a", req: request(macM0, a4("172.16.0.11"), sid), want: dhcpv4.MessageTypeAck},
		{name: "reserved, init-reboot with old pool address", iface: "srv-a", req: request(macM0, a4("172.16.0.60"), netip.Addr{}), want: dhcpv4.MessageTypeNak},
		{name: "address of another subnet", iface: "srv-a", req: request(macU1, a4("192.168.1.5"), netip.Addr{}), want: dhcpv4.MessageTypeNak},
		{name: "outside the pool", iface: "srv-a", req: request(macU1, a4("172.16.0.200"), netip.Addr{}), want: dhcpv4.MessageTypeNak},
		{name: "another node's reservation", iface: "srv-a", req: request(macU1, a4("172.16.0.12"), netip.Addr{}), want: dhcpv4.MessageTypeNak},
		{name: "free pool address (init-reboot)", iface: "srv-a", req: request(macU1, a4("172.16.0.70"), netip.Addr{}), want: dhcpv4.MessageTypeAck},
		{name: "held by another MAC", iface: "srv-a",
			setup: func(h *harness) { h.do("srv-a", request(macU2, a4("172.16.0.70"), netip.Addr{})) },
			req:   request(macU1, a4("172.16.0.70"), netip.Addr{}), want: dhcpv4.MessageTypeNak},
		{name: "held by another MAC whose lease expired", iface: "srv-a",
			setup: func(h *harness) {
				h.do("srv-a", request(macU2, a4("172.16.0.70"), netip.Addr{}))
				h.now = h.now.Add(2 * time.Hour)
			},
			req: request(macU1, a4("172.16.0.70"), netip.Addr{}), want: dhcpv4.MessageTypeAck},
		{name: "client chose another server", iface: "srv-a", req: request(macM0, a4("172.16.0.11"), a4("172.16.0.2")), want: dhcpv4.MessageTypeNone},
		{name: "renewing by ciaddr", iface: "srv-a",
			setup: func(h *harness) { h.dora("srv-a", macM0) },
			req:   msg(dhcpv4.MessageTypeRequest, macM0, dhcpv4.WithClientIP(net.ParseIP("172.16.0.11"))), want: dhcpv4.MessageTypeAck},
		{name: "renewing a wrong ciaddr", iface: "srv-a",
			req: msg(dhcpv4.MessageTypeRequest, macM0, dhcpv4.WithClientIP(net.ParseIP("172.16.0.13"))), want: dhcpv4.MessageTypeNak},
		{name: "no address at all", iface: "srv-a", req: msg(dhcpv4.MessageTypeRequest, macM0), want: dhcpv4.MessageTypeNone},
		{name: "unknown on data: silent, not NAK", iface: "srv-b", req: request(macU1, a4("10.16.0.11"), netip.Addr{}), want: dhcpv4.MessageTypeNone},
		{name: "reserved on data, wrong address", iface: "srv-b", req: request(macM0b, a4("10.16.0.12"), netip.Addr{}), want: dhcpv4.MessageTypeNak},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, labConfig())
			if tc.setup != nil {
				tc.setup(h)
			}
			r := h.do(tc.iface, tc.req)
			got := dhcpv4.MessageTypeNone
			if r != nil {
				got = r.msg.MessageType()
			}
			if got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
			if got == dhcpv4.MessageTypeNak {
				if r.dst.String() != "255.255.255.255:68" || r.msg.YourIPAddr.String() != "0.0.0.0" {
					t.Errorf("NAK to %s with yiaddr %s", r.dst, r.msg.YourIPAddr)
				}
				if lt := r.msg.Options.Get(dhcpv4.OptionIPAddressLeaseTime); lt != nil {
					t.Errorf("NAK carries a lease time")
				}
			}
			if got == dhcpv4.MessageTypeAck {
				ip := addrOf(r.msg.YourIPAddr)
				l, ok, err := h.st.LeaseByIP(r.network, ip)
				if err != nil || !ok || l.MAC != tc.req.ClientHWAddr.String() {
					t.Errorf("ACKed %s but the store has %+v, %v, %v", ip, l, ok, err)
				}
			}
		})
	}
}

func TestDecline(t *testing.T) {
	h := newHarness(t, labConfig())
	ip := h.dora("srv-a", macU1)
	// A DECLINE of someone else's address is ignored.
	h.do("srv-a", msg(dhcpv4.MessageTypeDecline, macU2, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip4(ip)))))
	if _, ok, _ := h.st.LeaseByIP("ctrl", ip); !ok {
		t.Fatal("a stranger's DECLINE removed the lease")
	}
	if r := h.do("srv-a", msg(dhcpv4.MessageTypeDecline, macU1, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip4(ip))))); r != nil {
		t.Errorf("DECLINE answered with %s", r.msg.MessageType())
	}
	if _, ok, _ := h.st.LeaseByIP("ctrl", ip); ok {
		t.Error("declined address still leased in the store")
	}
	if n := len(h.evs); n == 0 || h.evs[n-1].Kind != EventDeclined {
		t.Errorf("events %+v, want a declined event last", h.evs)
	}
	// Quarantined: neither the decliner nor anyone else gets it, even by asking.
	for _, mac := range []net.HardwareAddr{macU1, macU2} {
		if got := h.dora("srv-a", mac); got == ip {
			t.Errorf("%s got the declined %s", mac, ip)
		}
	}
	if r := h.do("srv-a", request(mustMAC("02:00:00:00:aa:03"), ip, netip.Addr{})); r == nil || r.msg.MessageType() != dhcpv4.MessageTypeNak {
		t.Errorf("REQUEST of the quarantined address: %v, want NAK", r)
	}
	// After the hold the address is usable again.
	h.now = h.now.Add(DefaultDeclineHold + time.Second)
	if r := h.do("srv-a", request(mustMAC("02:00:00:00:aa:03"), ip, netip.Addr{})); r == nil || r.msg.MessageType() != dhcpv4.MessageTypeAck {
		t.Errorf("REQUEST after the hold: %v, want ACK", r)
	}
}

func TestReleaseAndInform(t *testing.T) {
	h := newHarness(t, labConfig())
	ip := h.dora("srv-a", macU1, dhcpv4.WithOption(dhcpv4.OptHostName("Lab-PC.example")))
	if l, _, _ := h.st.LeaseByIP("ctrl", ip); l.Hostname != "lab-pc" {
		t.Errorf("stored host name %q, want lab-pc", l.Hostname)
	}
	// INFORM: options, no lease, unicast to ciaddr.
	r := h.do("srv-a", msg(dhcpv4.MessageTypeInform, macU1, dhcpv4.WithClientIP(ip4(ip))))
	if r == nil || r.msg.MessageType() != dhcpv4.MessageTypeAck || r.dst.String() != ip.String()+":68" ||
		r.msg.Options.Has(dhcpv4.OptionIPAddressLeaseTime) || !r.msg.YourIPAddr.Equal(net.IPv4zero) || r.msg.SubnetMask() == nil {
		t.Fatalf("INFORM reply %v", r)
	}
	// RELEASE with the wrong ciaddr is ignored, the right one frees it.
	h.do("srv-a", msg(dhcpv4.MessageTypeRelease, macU1, dhcpv4.WithClientIP(net.ParseIP("172.16.0.98"))))
	if _, ok, _ := h.st.LeaseByIP("ctrl", ip); !ok {
		t.Fatal("RELEASE of a wrong address removed the lease")
	}
	h.do("srv-a", msg(dhcpv4.MessageTypeRelease, macU1, dhcpv4.WithClientIP(ip4(ip))))
	if _, ok, _ := h.st.LeaseByIP("ctrl", ip); ok {
		t.Error("released lease still stored")
	}
	var kinds []EventKind
	for _, ev := range h.evs {
		kinds = append(kinds, ev.Kind)
	}
	if !slices.Equal(kinds, []EventKind{EventBound, EventReleased}) || h.evs[0].Hostname != "lab-pc" || h.evs[0].IP != ip {
		t.Errorf("events %+v", h.evs)
	}
	// Now the address is free for another client.
	if r := h.do("srv-a", request(macU2, ip, netip.Addr{})); r == nil || r.msg.MessageType() != dhcpv4.MessageTypeAck {
		t.Errorf("REQUEST of the released address: %v", r)
	}
}

func TestRelay(t *testing.T) {
	h := newHarness(t, labConfig())
	for _, tc := range []struct {
		name   string
		iface  string
		giaddr string
		mac    net.HardwareAddr
		want   string // yiaddr; "" = no reply
	}{
		{"relay on ctrl subnet, received on srv-a", "srv-a", "172.16.0.10", macU1, "172.16.0.50"},
		{"relay for data received on srv-a: network from giaddr", "srv-a", "10.16.0.254", macM0b, "10.16.0.11"},
		{"relay in no served subnet", "srv-a", "192.168.7.1", macM0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gi := net.ParseIP(tc.giaddr)
			opt82 := dhcpv4.OptRelayAgentInfo(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(1), []byte("port7")))
			r := h.do(tc.iface, discover(tc.mac, dhcpv4.WithRelay(gi), dhcpv4.WithOption(opt82)))
			if tc.want == "" {
				if r != nil {
					t.Fatalf("got %s", r.msg.MessageType())
				}
				return
			}
			if r == nil {
				t.Fatal("no reply")
			}
			if r.msg.YourIPAddr.String() != tc.want || r.dst.String() != tc.giaddr+":67" || !r.msg.GatewayIPAddr.Equal(gi) {
				t.Errorf("yiaddr %s to %s giaddr %s, want %s to %s:67", r.msg.YourIPAddr, r.dst, r.msg.GatewayIPAddr, tc.want, tc.giaddr)
			}
			if string(r.msg.Options.Get(dhcpv4.OptionRelayAgentInformation)) != string(opt82.Value.ToBytes()) {
				t.Error("option 82 not echoed")
			}
		})
	}
}

func TestOneAddressOneMAC(t *testing.T) {
	cfg := labConfig()
	cfg.Networks[0].Pool = [2]netip.Addr{a4("172.16.0.50"), a4("172.16.0.52")}
	h := newHarness(t, cfg)
	seen := map[netip.Addr]string{}
	for i := range 3 {
		mac := net.HardwareAddr{2, 0, 0, 0, 1, byte(i)}
		ip := h.dora("srv-a", mac)
		if other, dup := seen[ip]; dup {
			t.Fatalf("%s given to %s and %s", ip, other, mac)
		}
		seen[ip] = mac.String()
	}
	// Pool full: a fourth client gets nothing; after expiry it gets one.
	if r := h.do("srv-a", discover(mustMAC("02:00:00:00:01:09"))); r != nil {
		t.Fatalf("full pool offered %s", r.msg.YourIPAddr)
	}
	h.now = h.now.Add(2 * time.Hour)
	h.s.sweep()
	h.s.commitPending(h.s.answer)
	if ls, _ := h.st.Leases("ctrl"); len(ls) != 0 {
		t.Errorf("expired leases still stored: %+v", ls)
	}
	if got := h.dora("srv-a", mustMAC("02:00:00:00:01:09")); !h.s.cfg.byName["ctrl"].inPool(got) {
		t.Errorf("after expiry got %s", got)
	}
	checkStoreUnique(t, h.st)
}

// checkStoreUnique fails if an address is in two leases of a network.
func checkStoreUnique(t *testing.T, st *store.Store) {
	t.Helper()
	ls, err := st.Leases("")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, l := range ls {
		k := l.Network + "/" + l.IP.String()
		if other, dup := seen[k]; dup {
			t.Errorf("%s leased to %s and %s", k, other, l.MAC)
		}
		seen[k] = l.MAC
	}
}

func TestRestartKeepsLeases(t *testing.T) {
	h := newHarness(t, labConfig())
	ip := h.dora("srv-a", macU1)
	s2, err := New(labConfig(), h.st, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s2.now = h.s.now
	if got := s2.Leases(); len(got) != 1 || got[0].IP != ip {
		t.Fatalf("leases after restart %+v", got)
	}
	h.s = s2
	s2.sendFn = func(rs []*reply) []error { h.sent = append(h.sent, rs...); return make([]error, len(rs)) }
	if r := h.do("srv-a", discover(macU2)); r == nil || addrOf(r.msg.YourIPAddr) == ip {
		t.Errorf("new client offered %v, the restored lease is %s", r, ip)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(c *Config)
	}{
		{"no subnet", func(c *Config) { c.Networks[0].Subnet = netip.Prefix{} }},
		{"server outside subnet", func(c *Config) { c.Networks[0].ServerIP = a4("10.0.0.1") }},
		{"pool reversed", func(c *Config) { c.Networks[0].Pool = [2]netip.Addr{a4("172.16.0.99"), a4("172.16.0.50")} }},
		{"same interface twice", func(c *Config) { c.Networks[1].Interface = "srv-a" }},
		{"duplicate reservation IP", func(c *Config) { c.Networks[0].Reservations[1].IP = a4("172.16.0.11") }},
		{"overlapping subnets", func(c *Config) { c.Networks[1].Subnet = netip.MustParsePrefix("172.16.0.0/16") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := labConfig()
			tc.mod(&c)
			if _, err := compile(c); err == nil {
				t.Error("accepted")
			}
		})
	}
}
