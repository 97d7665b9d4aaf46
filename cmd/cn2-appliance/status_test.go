package main

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/status"
	"github.com/prometheus/client_golang/prometheus"
)

func TestStatusCommand(t *testing.T) {
	snap := status.Snapshot{
		Time:    time.Now(),
		Lab:     status.Lab{Zone: "mycluster.contrail.lan", NeedsReprovision: true, ReprovisionWhy: "cluster"},
		Cluster: status.Cluster{Status: "installing", Progress: 42},
		Steps:   []status.Step{{Name: "ensure-cluster", State: "done", Attempts: 1}, {Name: "watch-install", State: "running", Attempts: 2, LastError: "installer unavailable"}},
		Nodes: []status.Node{{Name: "worker-1", Role: "worker", DPDK: true, Power: "on", PXEProfile: "disk", HostStatus: "installing-in-progress", HostStage: "Rebooting"},
			{Name: "worker-0", Role: "worker"}},
		Validations: []status.Validation{{Scope: "cluster", ID: "api-vips-defined", Message: "API virtual IPs are undefined"}},
		Events:      []status.Event{{Time: time.Now(), Node: "worker-1", Message: "powered off instead of rebooting: powering it on"}},
	}
	srv := httptest.NewServer(status.NewHandler(status.Options{Source: func() status.Snapshot { return snap }, Gatherer: prometheus.NewRegistry()}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	out, errOut, code := run(t, "status", "--addr", addr)
	if code != 0 {
		t.Fatalf("status: code %d: %s", code, errOut)
	}
	for _, want := range []string{
		"mycluster.contrail.lan: installing, 42% installed",
		"NEEDS REPROVISION: cluster changed",
		"watch-install", "installer unavailable",
		"worker-1  worker+dpdk  on     disk  installing-in-progress  Rebooting",
		"worker-0  worker       -      -     -                       -",
		"api-vips-defined", "powered off instead of rebooting",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}
	if out, _, code := run(t, "status", "--addr", addr, "--json"); code != 0 || !strings.Contains(out, `"progressPercent": 42`) {
		t.Errorf("status --json: code %d\n%s", code, out)
	}
	if _, errOut, code := run(t, "status", "--addr", "127.0.0.1:1"); code == 0 || !strings.Contains(errOut, "is the appliance running?") {
		t.Errorf("status with nothing listening: code %d %s", code, errOut)
	}
}
