package dns

import (
	"bytes"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestDynamicNames(t *testing.T) {
	cfg := labConfig()
	cfg.ReservedNames = []string{"validateNoWildcardDNS", "master-3"}
	reg := prometheus.NewRegistry()
	var logs bytes.Buffer
	s, err := New(cfg, reg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	d := s.Names()
	now := time.Now()
	d.now = func() time.Time { return now }
	const macA, macB, macC = "02:00:00:00:00:0a", "02:00:00:00:00:0b", "02:00:00:00:00:0c"
	ip := func(last string) netip.Addr { return netip.MustParseAddr("172.16.0." + last) }
	if err := d.Claim(macA, "Bastion", ip("60"), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		host, reason string
	}{
		{"", RefusedInvalid}, {"a.b", RefusedInvalid}, {"a.apps", RefusedInvalid}, {"-x", RefusedInvalid},
		{"x_y", RefusedInvalid}, {strings.Repeat("a", 64), RefusedInvalid},
		// The lab's own names, whatever the case: static records, the labels above them
		// (apps of *.apps, data of master-0.data), and Config.ReservedNames.
		{"api", RefusedReserved}, {"API-INT", RefusedReserved}, {"ns", RefusedReserved}, {"ingress", RefusedReserved},
		{"apps", RefusedReserved}, {"master-0", RefusedReserved}, {"data", RefusedReserved},
		{"validatenowildcarddns", RefusedReserved}, {"ValidateNoWildcardDNS", RefusedReserved}, {"master-3", RefusedReserved},
		{"localhost", RefusedReserved}, {"wpad", RefusedReserved},
		{"bastion", RefusedTaken}, {"BASTION", RefusedTaken},
	} {
		err := d.Claim(macB, tc.host, ip("61"), now.Add(time.Hour))
		if reason, ok := IsRefused(err); !ok || reason != tc.reason {
			t.Errorf("Claim(%q) = %v, want refused as %s", tc.host, err, tc.reason)
		}
	}
	for reason, want := range map[string]float64{RefusedInvalid: 6, RefusedReserved: 12, RefusedTaken: 2} {
		if got := testutil.ToFloat64(s.metrics.namesRefused.WithLabelValues(reason)); got != want {
			t.Errorf("refused{reason=%s} = %v, want %v", reason, got, want)
		}
	}
	if n := strings.Count(logs.String(), "dynamic name refused"); n != 1 || !strings.Contains(logs.String(), "mac="+macB) {
		t.Errorf("refusals of one MAC logged %d times, want once:\n%s", n, logs.String())
	}

	check := func(name string, qtype uint16, rcode int, want string) {
		t.Helper()
		r := ask(t, s, "172.16.0.20", name, qtype)
		got := strings.Join(rdata(r.Answer), ",")
		if r.Rcode != rcode || got != want {
			t.Errorf("%s %s: rcode %s answer %q, want %s %q", name, mdns.TypeToString[qtype],
				mdns.RcodeToString[r.Rcode], got, mdns.RcodeToString[rcode], want)
		}
	}
	check("bastion.mycluster.contrail.lan.", mdns.TypeA, 0, "bastion.mycluster.contrail.lan. A 172.16.0.60")
	check("bastion.mycluster.contrail.lan.", mdns.TypeAAAA, 0, "")
	check("60.0.16.172.in-addr.arpa.", mdns.TypePTR, 0, "60.0.16.172.in-addr.arpa. PTR bastion.mycluster.contrail.lan.")
	check("61.0.16.172.in-addr.arpa.", mdns.TypePTR, mdns.RcodeNameError, "")
	check("x.bastion.mycluster.contrail.lan.", mdns.TypeA, mdns.RcodeNameError, "")
	check("validateNoWildcardDNS.mycluster.contrail.lan.", mdns.TypeA, mdns.RcodeNameError, "")

	// The holder renews and renames itself: the old name goes.
	if err := d.Claim(macA, "bastion2", ip("60"), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	check("bastion.mycluster.contrail.lan.", mdns.TypeA, mdns.RcodeNameError, "")
	// Another client may take a name whose lease has run out.
	now = now.Add(2 * time.Hour)
	if err := d.Claim(macC, "bastion2", ip("62"), now.Add(time.Hour)); err != nil {
		t.Errorf("a name of an expired lease: %v", err)
	}
	check("bastion2.mycluster.contrail.lan.", mdns.TypeA, 0, "bastion2.mycluster.contrail.lan. A 172.16.0.62")
	check("60.0.16.172.in-addr.arpa.", mdns.TypePTR, mdns.RcodeNameError, "")
	// An address given to another client keeps A and PTR consistent.
	if err := d.Claim(macB, "jump", ip("62"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	check("bastion2.mycluster.contrail.lan.", mdns.TypeA, mdns.RcodeNameError, "")
	check("62.0.16.172.in-addr.arpa.", mdns.TypePTR, 0, "62.0.16.172.in-addr.arpa. PTR jump.mycluster.contrail.lan.")
	d.Release(macA, "jump") // not its name: nothing happens
	check("jump.mycluster.contrail.lan.", mdns.TypeA, 0, "jump.mycluster.contrail.lan. A 172.16.0.62")
	d.Release(macB, "JUMP")
	check("jump.mycluster.contrail.lan.", mdns.TypeA, mdns.RcodeNameError, "")
	check("62.0.16.172.in-addr.arpa.", mdns.TypePTR, mdns.RcodeNameError, "")

	// A reload that reserves a name a client holds drops it.
	if err := d.Claim(macB, "worker-9", ip("63"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	cfg.ReservedNames = append(cfg.ReservedNames, "Worker-9")
	if err := s.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	check("worker-9.mycluster.contrail.lan.", mdns.TypeA, mdns.RcodeNameError, "")
	check("63.0.16.172.in-addr.arpa.", mdns.TypePTR, mdns.RcodeNameError, "")
}
