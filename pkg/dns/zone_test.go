package dns

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"
)

// ask runs one question through the handler as a UDP client at from.
func ask(t *testing.T, s *Server, from, name string, qtype uint16) *mdns.Msg {
	t.Helper()
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	w := &fakeWriter{remote: &net.UDPAddr{IP: net.ParseIP(from), Port: 5353}}
	handler{s: s}.ServeDNS(w, m)
	if w.msg == nil {
		t.Fatalf("%s %s: no reply", name, mdns.TypeToString[qtype])
	}
	return w.msg
}

// rdata renders the answer section as "TYPE value" strings.
func rdata(rrs []mdns.RR) []string {
	var out []string
	for _, rr := range rrs {
		s := rr.String()
		f := strings.Fields(s)
		out = append(out, f[0]+" "+mdns.TypeToString[rr.Header().Rrtype]+" "+strings.Join(f[4:], " "))
	}
	slices.Sort(out)
	return out
}

func TestZoneLookup(t *testing.T) {
	s, err := New(labConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	const z = "mycluster.contrail.lan."
	tests := []struct {
		name    string
		qname   string
		qtype   uint16
		rcode   int
		answer  []string
		negSOA  bool // SOA in authority (NXDOMAIN / NODATA)
		extraNS bool // glue for the NS in additional
	}{
		{"api", "api." + z, mdns.TypeA, 0, []string{"api." + z + " A 172.16.0.100"}, false, false},
		{"api-int", "api-int." + z, mdns.TypeA, 0, []string{"api-int." + z + " A 172.16.0.100"}, false, false},
		{"upper case", "API." + strings.ToUpper(z), mdns.TypeA, 0, []string{"api." + z + " A 172.16.0.100"}, false, false},
		{"wildcard", "console-openshift-console.apps." + z, mdns.TypeA, 0,
			[]string{"console-openshift-console.apps." + z + " A 172.16.0.101"}, false, false},
		{"wildcard two labels deep", "a.b.apps." + z, mdns.TypeA, 0, []string{"a.b.apps." + z + " A 172.16.0.101"}, false, false},
		{"wildcard NODATA for AAAA", "x.apps." + z, mdns.TypeAAAA, 0, nil, true, false},
		{"wildcard does not match its parent", "apps." + z, mdns.TypeA, 0, nil, true, false},
		{"the installer's wildcard probe", "validateNoWildcardDNS." + z, mdns.TypeA, mdns.RcodeNameError, nil, true, false},
		{"no wildcard under an existing name", "x.api." + z, mdns.TypeA, mdns.RcodeNameError, nil, true, false},
		{"no wildcard under a node", "foo.master-0." + z, mdns.TypeA, mdns.RcodeNameError, nil, true, false},
		{"empty non-terminal data", "data." + z, mdns.TypeA, 0, nil, true, false},
		{"node ctrl", "master-0." + z, mdns.TypeA, 0, []string{"master-0." + z + " A 172.16.0.11"}, false, false},
		{"node data", "master-0.data." + z, mdns.TypeA, 0, []string{"master-0.data." + z + " A 10.16.0.11"}, false, false},
		{"worker", "worker-1." + z, mdns.TypeA, 0, []string{"worker-1." + z + " A 172.16.0.15"}, false, false},
		{"NODATA AAAA on a node", "master-0." + z, mdns.TypeAAAA, 0, nil, true, false},
		{"NXDOMAIN", "nope." + z, mdns.TypeA, mdns.RcodeNameError, nil, true, false},
		{"ns", "ns." + z, mdns.TypeA, 0, []string{"ns." + z + " A 172.16.0.1"}, false, false},
		{"SOA", z, mdns.TypeSOA, 0, []string{z + " SOA ns." + z + " hostmaster." + z}, false, false},
		{"NS with glue", z, mdns.TypeNS, 0, []string{z + " NS ns." + z}, false, true},
		{"apex A NODATA", z, mdns.TypeA, 0, nil, true, false},
		{"PTR ctrl", "11.0.16.172.in-addr.arpa.", mdns.TypePTR, 0, []string{"11.0.16.172.in-addr.arpa. PTR master-0." + z}, false, false},
		{"PTR data", "11.0.16.10.in-addr.arpa.", mdns.TypePTR, 0, []string{"11.0.16.10.in-addr.arpa. PTR master-0.data." + z}, false, false},
		{"PTR api VIP", "100.0.16.172.in-addr.arpa.", mdns.TypePTR, 0, []string{"100.0.16.172.in-addr.arpa. PTR api." + z}, false, false},
		{"PTR ingress VIP", "101.0.16.172.in-addr.arpa.", mdns.TypePTR, 0, []string{"101.0.16.172.in-addr.arpa. PTR ingress." + z}, false, false},
		{"PTR unknown", "200.0.16.172.in-addr.arpa.", mdns.TypePTR, mdns.RcodeNameError, nil, true, false},
		{"reverse SOA", "0.16.10.in-addr.arpa.", mdns.TypeSOA, 0, []string{"0.16.10.in-addr.arpa. SOA ns." + z + " hostmaster.0.16.10.in-addr.arpa."}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A client outside the lab networks still gets the authoritative answers.
			r := ask(t, s, "192.0.2.7", tt.qname, tt.qtype)
			if !r.Authoritative {
				t.Errorf("AA not set")
			}
			if r.Rcode != tt.rcode {
				t.Errorf("rcode %s, want %s", mdns.RcodeToString[r.Rcode], mdns.RcodeToString[tt.rcode])
			}
			got := rdata(r.Answer)
			if tt.qtype == mdns.TypeSOA && len(got) == 1 { // drop serial and timers
				got[0] = strings.Join(strings.Fields(got[0])[:4], " ")
			}
			if !slices.Equal(got, tt.answer) {
				t.Errorf("answer %q, want %q", got, tt.answer)
			}
			hasSOA := len(r.Ns) == 1 && r.Ns[0].Header().Rrtype == mdns.TypeSOA
			if hasSOA != tt.negSOA {
				t.Errorf("authority %v, want SOA: %v", r.Ns, tt.negSOA)
			}
			if hasSOA {
				soa := r.Ns[0].(*mdns.SOA)
				if soa.Hdr.Ttl != 10 || soa.Minttl != 10 {
					t.Errorf("negative SOA TTL %d minimum %d, want 10 and 10", soa.Hdr.Ttl, soa.Minttl)
				}
			}
			if tt.extraNS != (len(r.Extra) == 1) {
				t.Errorf("additional %v, want glue: %v", r.Extra, tt.extraNS)
			}
			for _, rr := range r.Answer {
				if rr.Header().Ttl != 30 {
					t.Errorf("TTL %d, want 30", rr.Header().Ttl)
				}
			}
		})
	}
}

func TestRefusedOutsideZonesAndACL(t *testing.T) {
	cfg := labConfig()
	cfg.Forwarders = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:9")} // never asked
	s, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := ask(t, s, "192.0.2.7", "example.com.", mdns.TypeA)
	if r.Rcode != mdns.RcodeRefused || r.RecursionAvailable {
		t.Errorf("outside client: rcode %s RA %v, want REFUSED without RA", mdns.RcodeToString[r.Rcode], r.RecursionAvailable)
	}
	r = ask(t, s, "172.16.0.20", "api.mycluster.contrail.lan.", mdns.TypeA)
	if !r.RecursionAvailable {
		t.Errorf("lab client: RA not set")
	}
	// Unsupported queries.
	for _, tt := range []struct {
		name  string
		build func(*mdns.Msg)
		rcode int
	}{
		{"AXFR", func(m *mdns.Msg) { m.Question[0].Qtype = mdns.TypeAXFR }, mdns.RcodeRefused},
		{"CHAOS", func(m *mdns.Msg) { m.Question[0].Qclass = mdns.ClassCHAOS }, mdns.RcodeRefused},
		{"UPDATE", func(m *mdns.Msg) { m.Opcode = mdns.OpcodeUpdate }, mdns.RcodeNotImplemented},
		{"two questions", func(m *mdns.Msg) { m.Question = append(m.Question, m.Question[0]) }, mdns.RcodeFormatError},
		{"EDNS version 1", func(m *mdns.Msg) { m.SetEdns0(1232, false); m.IsEdns0().SetVersion(1) }, mdns.RcodeBadVers},
	} {
		m := new(mdns.Msg)
		m.SetQuestion("api.mycluster.contrail.lan.", mdns.TypeA)
		tt.build(m)
		r := s.respond(context.Background(), m, netip.MustParseAddr("127.0.0.1"), true)
		if r.Rcode != tt.rcode {
			t.Errorf("%s: rcode %s, want %s", tt.name, mdns.RcodeToString[r.Rcode], mdns.RcodeToString[tt.rcode])
		}
	}
}

func TestCompileErrors(t *testing.T) {
	base := func() Config { return labConfig() }
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"relative origin", func(c *Config) { c.Zones[0].Origin = "mycluster.contrail.lan" }, "fully qualified"},
		{"record outside zone", func(c *Config) {
			c.Zones[0].Records = append(c.Zones[0].Records, Record{Name: "x.example.com.", Type: TypeA, Value: "1.2.3.4"})
		}, "outside the zone"},
		{"bad address", func(c *Config) {
			c.Zones[0].Records = append(c.Zones[0].Records, Record{Name: "x.mycluster.contrail.lan.", Type: TypeA, Value: "nope"})
		}, "parse address"},
		{"v6 in A", func(c *Config) {
			c.Zones[0].Records = append(c.Zones[0].Records, Record{Name: "x.mycluster.contrail.lan.", Type: TypeA, Value: "::1"})
		}, "IPv4"},
		{"mid wildcard", func(c *Config) {
			c.Zones[0].Records = append(c.Zones[0].Records, Record{Name: "a.*.mycluster.contrail.lan.", Type: TypeA, Value: "1.2.3.4"})
		}, "wildcard"},
		{"CNAME next to A", func(c *Config) {
			c.Zones[0].Records = append(c.Zones[0].Records, Record{Name: "api.mycluster.contrail.lan.", Type: TypeCNAME, Value: "x.example.com."})
		}, "CNAME"},
		{"unsupported type", func(c *Config) {
			c.Zones[0].Records = append(c.Zones[0].Records, Record{Name: "x.mycluster.contrail.lan.", Type: mdns.TypeMX, Value: "x"})
		}, "unsupported"},
		{"duplicate zone", func(c *Config) { c.Zones = append(c.Zones, c.Zones[0]) }, "defined twice"},
		{"dynamic zone is reverse", func(c *Config) { c.DynamicZone = "0.16.10.in-addr.arpa." }, "not one of the forward zones"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base()
			tt.edit(&cfg)
			_, err := New(cfg, nil, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestCNAMEAndTXT(t *testing.T) {
	cfg := labConfig()
	z := &cfg.Zones[0]
	z.Records = append(z.Records,
		Record{Name: "registry.mycluster.contrail.lan.", Type: TypeCNAME, Value: "api.mycluster.contrail.lan."},
		Record{Name: "ext.mycluster.contrail.lan.", Type: TypeCNAME, Value: "www.example.com."},
		Record{Name: "note.mycluster.contrail.lan.", Type: TypeTXT, Value: "hello"},
		Record{Name: "v6.mycluster.contrail.lan.", Type: TypeAAAA, Value: "fd00::1"},
	)
	s, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := ask(t, s, "127.0.0.1", "registry.mycluster.contrail.lan.", mdns.TypeA)
	want := []string{"api.mycluster.contrail.lan. A 172.16.0.100", "registry.mycluster.contrail.lan. CNAME api.mycluster.contrail.lan."}
	if got := rdata(r.Answer); !slices.Equal(got, want) {
		t.Errorf("in-zone CNAME chain %q, want %q", got, want)
	}
	r = ask(t, s, "127.0.0.1", "ext.mycluster.contrail.lan.", mdns.TypeA)
	if got := rdata(r.Answer); len(got) != 1 || r.Rcode != 0 {
		t.Errorf("out-of-zone CNAME %q rcode %d, want the CNAME alone", got, r.Rcode)
	}
	r = ask(t, s, "127.0.0.1", "note.mycluster.contrail.lan.", mdns.TypeTXT)
	if got := rdata(r.Answer); !slices.Equal(got, []string{`note.mycluster.contrail.lan. TXT "hello"`}) {
		t.Errorf("TXT %q", got)
	}
	r = ask(t, s, "127.0.0.1", "v6.mycluster.contrail.lan.", mdns.TypeAAAA)
	if got := rdata(r.Answer); !slices.Equal(got, []string{"v6.mycluster.contrail.lan. AAAA fd00::1"}) {
		t.Errorf("AAAA %q", got)
	}
}
