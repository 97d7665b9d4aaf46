package dns

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"

	mdns "github.com/miekg/dns"
)

// labConfig is the example lab: cluster zone mycluster.contrail.lan with the
// VIPs, the *.apps wildcard, three masters and two workers on the ctrl
// (172.16.0.0/24) and data (10.16.0.0/24) networks, and both reverse zones.
func labConfig() Config {
	const zone = "mycluster.contrail.lan."
	a := func(name, addr string) Record { return Record{Name: name + "." + zone, Type: TypeA, Value: addr} }
	ptr := func(addr, target string) Record {
		rev, err := mdns.ReverseAddr(addr)
		if err != nil {
			panic(err)
		}
		return Record{Name: rev, Type: TypePTR, Value: target}
	}
	cluster := Zone{Origin: zone, NS: "ns." + zone, Records: []Record{
		a("api", "172.16.0.100"), a("api-int", "172.16.0.100"), a("*.apps", "172.16.0.101"),
		a("ingress", "172.16.0.101"), a("ns", "172.16.0.1"),
	}}
	ctrlRev := Zone{Origin: "0.16.172.in-addr.arpa.", NS: "ns." + zone, Records: []Record{
		ptr("172.16.0.100", "api."+zone), ptr("172.16.0.101", "ingress."+zone), ptr("172.16.0.1", "ns."+zone),
	}}
	dataRev := Zone{Origin: "0.16.10.in-addr.arpa.", NS: "ns." + zone}
	nodes := []string{"master-0", "master-1", "master-2", "worker-0", "worker-1"}
	for i, n := range nodes {
		ctrl, data := fmt.Sprintf("172.16.0.%d", 11+i), fmt.Sprintf("10.16.0.%d", 11+i)
		cluster.Records = append(cluster.Records, a(n, ctrl), a(n+".data", data))
		ctrlRev.Records = append(ctrlRev.Records, ptr(ctrl, n+"."+zone))
		dataRev.Records = append(dataRev.Records, ptr(data, n+".data."+zone))
	}
	return Config{
		Zones:         []Zone{cluster, ctrlRev, dataRev},
		RecursionFrom: []netip.Prefix{netip.MustParsePrefix("172.16.0.0/24"), netip.MustParsePrefix("10.16.0.0/24")},
		TTL:           30,
		NegativeTTL:   10,
		UDPSockets:    1,
	}
}

// startServer runs a server for cfg on 127.0.0.1 (free port unless cfg.Listen
// is set) until the test ends.
func startServer(t *testing.T, cfg Config) (*Server, netip.AddrPort) {
	t.Helper()
	if len(cfg.Listen) == 0 {
		cfg.Listen = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}
	}
	s, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
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
	return s, s.Addrs()[0]
}

// query sends one question to addr over network ("udp" or "tcp").
func query(t *testing.T, addr netip.AddrPort, network, name string, qtype uint16) *mdns.Msg {
	t.Helper()
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	c := &mdns.Client{Net: network}
	resp, _, err := c.Exchange(m, addr.String())
	if err != nil {
		t.Fatalf("query %s %s over %s: %v", name, mdns.TypeToString[qtype], network, err)
	}
	return resp
}

// fakeWriter is an in-process mdns.ResponseWriter.
type fakeWriter struct {
	remote net.Addr
	msg    *mdns.Msg
}

func (w *fakeWriter) LocalAddr() net.Addr        { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53} }
func (w *fakeWriter) RemoteAddr() net.Addr       { return w.remote }
func (w *fakeWriter) WriteMsg(m *mdns.Msg) error { w.msg = m; return nil }
func (w *fakeWriter) Write(b []byte) (int, error) {
	m := new(mdns.Msg)
	if err := m.Unpack(b); err != nil {
		return 0, err
	}
	w.msg = m
	return len(b), nil
}
func (w *fakeWriter) Close() error        { return nil }
func (w *fakeWriter) TsigStatus() error   { return nil }
func (w *fakeWriter) TsigTimersOnly(bool) {}
func (w *fakeWriter) Hijack()             {}
