package doctor

import (
	"context"
	"net"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/cn2-appliance/cn2-appliance/internal/aisim"
	"github.com/cn2-appliance/cn2-appliance/internal/testlab"
	mdns "github.com/miekg/dns"
)

// TestInstallerCheck against the simulator over TLS on loopback: trusted and offering the
// version; an untrusted certificate; a refused token; a version the installer does not offer.
func TestInstallerCheck(t *testing.T) {
	lab := testlab.Example(t)
	sim, err := aisim.New(aisim.Options{Auth: &aisim.Auth{OfflineTokens: []string{string(lab.AssistedInstaller.OfflineToken.Reveal())}}})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	srv := httptest.NewTLSServer(sim)
	defer srv.Close()
	lab.AssistedInstaller.URL, lab.AssistedInstaller.TokenURL = srv.URL, srv.URL+aisim.TokenPath
	trusted := &Env{Lab: lab, HTTPClient: srv.Client()}
	if rs := checkInstaller(context.Background(), trusted); len(rs) != 1 || rs[0].Status != StatusOK {
		t.Errorf("healthy installer: %+v", rs)
	}
	for _, tt := range []struct {
		name  string
		env   func() *Env
		wants []string
	}{
		{"untrusted certificate", func() *Env { return &Env{Lab: lab} }, []string{"TLS: the installer's certificate is not trusted", "trust store"}},
		{"version not offered", func() *Env {
			l := *lab
			l.Cluster.OpenshiftVersion = "4.99"
			return &Env{Lab: &l, HTTPClient: srv.Client()}
		}, []string{"does not offer OpenShift 4.99", "4.14, 4.15, 4.16"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rs := checkInstaller(context.Background(), tt.env())
			if len(rs) != 1 || rs[0].Status != StatusError {
				t.Fatalf("results %+v", rs)
			}
			for _, w := range tt.wants {
				if !strings.Contains(rs[0].Message+" "+rs[0].Fix, w) {
					t.Errorf("result lacks %q: %+v", w, rs[0])
				}
			}
		})
	}
	t.Run("token refused", func(t *testing.T) {
		other, err := aisim.New(aisim.Options{Auth: &aisim.Auth{OfflineTokens: []string{"another-token"}}})
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		osrv := httptest.NewTLSServer(other)
		defer osrv.Close()
		l := *lab
		l.AssistedInstaller.URL, l.AssistedInstaller.TokenURL = osrv.URL, osrv.URL+aisim.TokenPath
		rs := checkInstaller(context.Background(), &Env{Lab: &l, HTTPClient: osrv.Client()})
		if len(rs) != 1 || rs[0].Status != StatusError || !strings.Contains(rs[0].Message, "refused the offline token") || !strings.Contains(rs[0].Fix, "console.redhat.com/openshift/token") {
			t.Errorf("results %+v", rs)
		}
		if strings.Contains(rs[0].Message, string(lab.AssistedInstaller.OfflineToken.Reveal())) {
			t.Error("the result carries the offline token")
		}
	})
}

// TestDNSCheckFindsAWildcard: a DNS server that answers every name (a catch-all, as a lab's
// misconfigured resolver does) fails validateNoWildcardDNS and the node PTRs.
func TestDNSCheckFindsAWildcard(t *testing.T) {
	lab := testlab.Example(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(func(w mdns.ResponseWriter, q *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(q)
		if q.Question[0].Qtype == mdns.TypeA {
			rr, _ := mdns.NewRR(q.Question[0].Name + " 60 IN A 172.16.0.100")
			m.Answer = append(m.Answer, rr)
		}
		_ = w.WriteMsg(m)
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	defer func() { _ = srv.Shutdown() }()
	env := &Env{Lab: lab, DNS: netip.MustParseAddrPort(pc.LocalAddr().String())}
	rs := checkDNS(context.Background(), env)
	got := map[string]Result{}
	for _, r := range rs {
		got[r.Target] = r
	}
	zone := lab.Zone()
	if r := got["validateNoWildcardDNS."+zone]; r.Status != StatusError || !strings.Contains(r.Message, "want NXDOMAIN") || !strings.Contains(r.Fix, "only *.apps") {
		t.Errorf("wildcard probe: %+v", r)
	}
	if r := got["api."+zone]; r.Status != "" {
		t.Errorf("api answered right but reported: %+v", r)
	}
	if r := got["master-0."+zone]; r.Status != StatusError || !strings.Contains(r.Message, "want 172.16.0.11") {
		t.Errorf("master-0: %+v", r)
	}
	if r := got["11.0.16.172.in-addr.arpa"]; r.Status != StatusError {
		t.Errorf("PTR: %+v", r)
	}
}
