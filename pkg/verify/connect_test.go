package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// startDNS serves name -> 127.0.0.1 on a loopback UDP port, as the appliance's lab zone does
// for api.<cluster>.<baseDomain>; every other name is NXDOMAIN. It counts the queries for name.
func startDNS(t *testing.T, name string) (netip.AddrPort, *atomic.Int32) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var asked atomic.Int32
	mux := dns.NewServeMux()
	mux.HandleFunc(".", func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		if len(q.Question) == 1 && strings.EqualFold(q.Question[0].Name, dns.Fqdn(name)) {
			asked.Add(1)
			if q.Question[0].Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30}, A: net.IPv4(127, 0, 0, 1)})
			}
		} else {
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})
	srv := &dns.Server{PacketConn: pc, Handler: mux}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return netip.MustParseAddrPort(pc.LocalAddr().String()), &asked
}

// TestConnectReachesTheAPIByNameThroughTheAppliancesDNS lists nodes with client-go from an
// API server known only by api.<cluster>.<baseDomain>, a name only the DNS server on loopback
// resolves.
func TestConnectReachesTheAPIByNameThroughTheAppliancesDNS(t *testing.T) {
	const apiName = "api.mycluster.contrail.lan"
	dnsAddr, asked := startDNS(t, apiName)
	var hosts atomic.Value
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hosts.Store(r.Host)
		if r.URL.Path != "/api/v1/nodes" {
			http.NotFound(w, r)
			return
		}
		list := corev1.NodeList{TypeMeta: metav1.TypeMeta{Kind: "NodeList", APIVersion: "v1"}, Items: []corev1.Node{*node("master-0", "master", nil)}}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(list)
	}))
	defer api.Close()
	_, port, _ := net.SplitHostPort(api.Listener.Addr().String())

	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	server := fmt.Sprintf("http://%s:%s", apiName, port)
	content := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- cluster:
    server: %s
  name: mycluster
contexts:
- context:
    cluster: mycluster
    user: admin
  name: admin
current-context: admin
users:
- name: admin
  user:
    token: not-a-real-token
`, server)
	if err := os.WriteFile(kubeconfig, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Connect(kubeconfig, dnsAddr)
	if err != nil {
		t.Fatal(err)
	}
	list, err := c.Dynamic.Resource(Nodes).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list nodes through %s: %v", dnsAddr, err)
	}
	if len(list.Items) != 1 || list.Items[0].GetName() != "master-0" {
		t.Errorf("nodes %v", list.Items)
	}
	if asked.Load() == 0 {
		t.Error("the DNS server was never asked for " + apiName)
	}
	if got, _ := hosts.Load().(string); got != apiName+":"+port {
		t.Errorf("the API saw Host %q, want %s:%s", got, apiName, port)
	}
}

func TestDialerFailsForANameTheDNSDoesNotKnow(t *testing.T) {
	dnsAddr, _ := startDNS(t, "api.mycluster.contrail.lan")
	_, err := Dialer(dnsAddr).DialContext(context.Background(), "tcp", "api.othercluster.contrail.lan:6443")
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
		t.Fatalf("dial: %v, want a not-found DNS error", err)
	}
}
