package dns

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// FuzzHandler feeds random wire messages through the UDP fast path and
// through the handler (unpack, then respond) from a loopback client and an
// outside one, over UDP and TCP. Nothing may panic, and every reply must
// pack and parse.
func FuzzHandler(f *testing.F) {
	seed := func(name string, qtype uint16, edns bool) {
		m := new(mdns.Msg)
		m.SetQuestion(name, qtype)
		if edns {
			m.SetEdns0(1232, true)
		}
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	seed("api.mycluster.contrail.lan.", mdns.TypeA, false)
	seed("console-openshift-console.apps.mycluster.contrail.lan.", mdns.TypeA, true)
	seed("validateNoWildcardDNS.mycluster.contrail.lan.", mdns.TypeAAAA, false)
	seed("11.0.16.172.in-addr.arpa.", mdns.TypePTR, true)
	seed("mycluster.contrail.lan.", mdns.TypeANY, false)
	seed("example.com.", mdns.TypeA, false)
	f.Add([]byte{0, 1, 2})

	cfg := labConfig() // no forwarders: the fuzzer must not send traffic
	s, err := New(cfg, nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	if err := s.Names().Claim("02:00:00:00:00:70", "dyn", netip.MustParseAddr("172.16.0.70"), time.Time{}); err != nil {
		f.Fatal(err)
	}
	clients := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("192.0.2.1")}
	fast := &udpServer{s: s} // no forwarders: never writes to its (nil) socket
	udpClients := []*net.UDPAddr{{IP: net.IPv4(127, 0, 0, 1), Port: 5353}, {IP: net.IPv4(192, 0, 2, 1), Port: 5353}}
	f.Fuzz(func(t *testing.T, wire []byte) {
		for _, c := range udpClients { // the UDP fast path, twice: packed reply the second time
			for range 2 {
				if r := fast.handle(context.Background(), wire, c, nil); r != nil {
					if err := new(mdns.Msg).Unpack(r); err != nil {
						t.Fatalf("fast-path reply does not parse: %v", err)
					}
				}
			}
		}
		m := new(mdns.Msg)
		if err := m.Unpack(wire); err != nil {
			return // the server drops what miekg/dns cannot parse
		}
		for _, c := range clients {
			for _, udp := range []bool{true, false} {
				r := s.respond(context.Background(), m, c, udp)
				if r == nil {
					continue
				}
				if _, err := r.Pack(); err != nil {
					t.Fatalf("reply does not pack: %v\n%v", err, r)
				}
			}
		}
	})
}
