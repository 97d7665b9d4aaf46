package main

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/rehearsal"
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

// TestStatusFindsRehearsal: without --addr and without a lab file (a dev checkout), status
// asks the rehearsal that runs here, from its runtime file; with no rehearsal running it says
// how to name the appliance.
func TestStatusFindsRehearsal(t *testing.T) {
	if _, err := os.Stat("/etc/cn2-appliance/lab.yaml"); err == nil {
		t.Skip("this machine has a lab file at the default path, which status would read")
	}
	t.Setenv("CN2_APPLIANCE_CONFIG", "")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	snap := status.Snapshot{Lab: status.Lab{Zone: "mycluster.contrail.lan"}, Cluster: status.Cluster{Status: "installing", Progress: 7}}
	srv := httptest.NewServer(status.NewHandler(status.Options{Source: func() status.Snapshot { return snap }, Gatherer: prometheus.NewRegistry()}))
	defer srv.Close()

	_, errOut, code := run(t, "status")
	if code == 0 || !strings.Contains(errOut, "no lab file at /etc/cn2-appliance/lab.yaml and no rehearsal runs: give the status address (--addr HOST:PORT) or the lab file (-c FILE)") {
		t.Errorf("status with nothing to ask: code %d, %q", code, errOut)
	}

	running := rehearsal.Running{Status: strings.TrimPrefix(srv.URL, "http://"), PID: os.Getpid(), Lab: "configs/lab.example.yaml"}
	b, _ := json.Marshal(running)
	if err := os.WriteFile(rehearsal.DefaultRuntimeFile(), b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, "status")
	if code != 0 || !strings.Contains(out, "mycluster.contrail.lan: installing, 7% installed") || !strings.Contains(errOut, "the rehearsal of configs/lab.example.yaml") {
		t.Errorf("status of the running rehearsal: code %d\n%s\n%s", code, out, errOut)
	}

	running.PID = 1 << 30 // no such process: a rehearsal that was killed left its file
	b, _ = json.Marshal(running)
	_ = os.WriteFile(rehearsal.DefaultRuntimeFile(), b, 0o600)
	if _, errOut, code := run(t, "status"); code == 0 || !strings.Contains(errOut, "no longer runs") {
		t.Errorf("status with a stale runtime file: code %d, %q", code, errOut)
	}
}
