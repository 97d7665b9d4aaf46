package status

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func sample() Snapshot {
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	return Snapshot{
		Time: now, Version: "test",
		Lab: Lab{File: "/etc/cn2-appliance/lab.yaml", Zone: "mycluster.contrail.lan", OpenshiftVersion: "4.14", NeedsReprovision: true, ReprovisionWhy: "cluster.apiVIP changed"},
		Cluster: Cluster{ID: "c-1", Status: "installing", StatusInfo: "Installation in progress", Progress: 42,
			Proxy: &Proxy{HTTPProxy: "http://svc:[redacted]@proxy.corp:3128", HTTPSProxy: "http://svc:[redacted]@proxy.corp:3128",
				NoProxy: []string{".corp", "172.16.0.0/24"}, TrustBundle: []string{"CN=Corp CA"}}},
		Steps: []Step{
			{Name: "ensure-cluster", State: "done", Duration: 2 * time.Second},
			{Name: "watch-install", State: "running", Attempts: 1},
			{Name: "verify", State: "pending"},
		},
		Nodes: []Node{
			{Name: "master-0", Role: "control-plane", NICs: []NIC{{Network: "ctrl", MAC: "52:54:00:00:00:11", IP: "172.16.0.11", LeaseExpiry: now.Add(time.Hour)}}, PXEProfile: "disk", Power: "on", BMCDriver: "redfish", HostStatus: "installing-in-progress", HostStage: "Rebooting", HostProgress: 70},
			{Name: "worker-1", Role: "worker", DPDK: true, NICs: []NIC{{Network: "ctrl", MAC: "52:54:00:00:00:15", IP: "172.16.0.15"}}, PXEProfile: "discovery", Power: "off", BMCDriver: "libvirt"},
		},
		Validations: []Validation{{Scope: "cluster", ID: "api-vips-defined", Status: "failure", Message: "API virtual IPs are undefined"}},
		Events:      []Event{{Time: now, Level: "error", Source: "flow", Message: "<script>alert(1)</script>"}},
		Reload: Reload{File: "/etc/cn2-appliance/lab.yaml", Time: now, LastSuccess: now.Add(-time.Hour), Problems: []ReloadProblem{
			{File: "/etc/cn2-appliance/lab.yaml", Line: 12, Column: 11, Key: "cluster.apiVIP", Message: "172.16.0.60 is inside the DHCP pool"},
		}},
		Loops: []Loop{
			{Name: "dhcp read ens4", Alive: true, LastBeat: now},
			{Name: "flow", Alive: true, LastBeat: now, Idle: "stopped on a permanent error"},
			{Name: "dns tcp 172.16.0.1:53", LastBeat: now.Add(-time.Minute), Wedged: "no beat for 1m0s (allowed: 30s)"},
		},
	}
}

func serve(t *testing.T, o Options) *httptest.Server {
	t.Helper()
	if o.Source == nil {
		o.Source = sample
	}
	if o.Gatherer == nil {
		reg := prometheus.NewRegistry()
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: "cn2_appliance_test_total", Help: "test"})
		reg.MustRegister(c)
		o.Gatherer = reg
	}
	srv := httptest.NewServer(NewHandler(o))
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestPage(t *testing.T) {
	srv := serve(t, Options{})
	code, body := get(t, srv.URL+"/")
	if code != 200 {
		t.Fatalf("GET / = %d", code)
	}
	for _, want := range []string{
		`<meta http-equiv="refresh" content="5">`,
		`data-node="master-0" data-host-status="installing-in-progress" data-stage="Rebooting" data-power="on" data-boot="disk"`,
		`data-node="worker-1"`, "worker, DPDK", "(no lease)", "lease until 11:00:00",
		`data-step="watch-install" data-state="running"`,
		`id="cluster-progress" data-percent="42" style="width: 42%"`,
		"Needs reprovision:", "API virtual IPs are undefined",
		`id="reload-refused"`, "/etc/cn2-appliance/lab.yaml:12:11: cluster.apiVIP: 172.16.0.60 is inside the DHCP pool",
		"still runs the lab applied at 09:00:00", "last reload refused",
		`data-loop="dhcp read ens4" data-alive="true"`, "idle: stopped on a permanent error",
		`data-loop="dns tcp 172.16.0.1:53" data-alive="false"`, "wedged: no beat for 1m0s (allowed: 30s)",
		"&lt;script&gt;alert(1)&lt;/script&gt;",
		`<span class="mono" id="proxy-https">http://svc:[redacted]@proxy.corp:3128</span>`, `id="proxy-no-proxy">.corp, 172.16.0.0/24</span>`, "trusts <span class=\"mono\">CN=Corp CA</span>",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>") {
		t.Error("page carries an unescaped script")
	}
	if code, css := get(t, srv.URL+"/static/style.css"); code != 200 || !strings.Contains(css, ".bar") {
		t.Errorf("style.css: %d", code)
	}
}

func TestJSONAndHealth(t *testing.T) {
	notReady := errors.New("dhcp not bound yet")
	ready := notReady
	var healthy error
	srv := serve(t, Options{Ready: func() error { return ready }, Healthy: func() error { return healthy }})
	code, body := get(t, srv.URL+"/api/v1/status")
	var s Snapshot
	if code != 200 || json.Unmarshal([]byte(body), &s) != nil || s.Cluster.Progress != 42 || len(s.Nodes) != 2 || s.Nodes[0].HostStage != "Rebooting" {
		t.Fatalf("/api/v1/status = %d %s", code, body)
	}
	if s.Reload.Successful || len(s.Reload.Problems) != 1 || s.Reload.Problems[0].Line != 12 || s.Reload.Problems[0].Key != "cluster.apiVIP" ||
		len(s.Loops) != 3 || s.Loops[2].Alive || s.Loops[2].Wedged == "" {
		t.Errorf("/api/v1/status reload and loops: %+v %+v", s.Reload, s.Loops)
	}
	if code, _ := get(t, srv.URL+"/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	healthy = errors.New("dns tcp 172.16.0.1:53: no beat for 1m0s")
	if code, body := get(t, srv.URL+"/healthz"); code != 503 || !strings.Contains(body, "unhealthy: dns tcp 172.16.0.1:53: no beat") {
		t.Errorf("/healthz with a wedged loop = %d %s", code, body)
	}
	if code, body := get(t, srv.URL+"/readyz"); code != 503 || !strings.Contains(body, "dhcp not bound yet") {
		t.Errorf("/readyz = %d %s", code, body)
	}
	ready = nil
	if code, _ := get(t, srv.URL+"/readyz"); code != 200 {
		t.Errorf("/readyz when ready = %d", code)
	}
	if code, body := get(t, srv.URL+"/metrics"); code != 200 || !strings.Contains(body, "cn2_appliance_test_total 0") {
		t.Errorf("/metrics = %d %s", code, body)
	}
	resp, err := http.Post(srv.URL+"/api/v1/status", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST = %d, want 405: the status server is read-only", resp.StatusCode)
	}
}
