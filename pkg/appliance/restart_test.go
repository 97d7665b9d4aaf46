package appliance

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/aisim"
	"github.com/cn2-appliance/cn2-appliance/internal/labsim"
	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
	"github.com/cn2-appliance/cn2-appliance/pkg/bmc"
	"github.com/cn2-appliance/cn2-appliance/pkg/bmc/bmctest"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/doctor"
	"github.com/cn2-appliance/cn2-appliance/pkg/flow"
	"github.com/cn2-appliance/cn2-appliance/pkg/liveness"
	"github.com/cn2-appliance/cn2-appliance/pkg/status"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
	"github.com/prometheus/client_golang/prometheus"
)

// simLab is the example lab against a fresh simulator that accepts tokens, with simulated
// nodes; start runs the appliance's flow in the background until the test ends.
func simLab(t *testing.T, tokens ...string) (lab *config.Lab, sim *aisim.Sim, a *Appliance, start func()) {
	t.Helper()
	return simLabWith(t, exampleLab(t), doctor.Names(), tokens...)
}

// simLabWith is simLab for a given lab, skipping the given preflight checks.
func simLabWith(t *testing.T, lab *config.Lab, skip []string, tokens ...string) (_ *config.Lab, sim *aisim.Sim, a *Appliance, start func()) {
	t.Helper()
	sim, err := aisim.New(aisim.Options{TimeScale: 0.002, Auth: &aisim.Auth{OfflineTokens: tokens}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Close)
	lab.AssistedInstaller.URL, lab.AssistedInstaller.TokenURL = srv.URL, srv.URL+aisim.TokenPath
	power := simulatedBMCs(srv.URL, lab.Nodes)
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a, err = New(lab, st, prometheus.NewRegistry(), slog.New(slog.DiscardHandler), Options{Power: power, PollInterval: 10 * time.Millisecond, SkipPreflight: skip,
		NoClusterAPI: true}) // the simulated cluster has no API server for verify
	if err != nil {
		t.Fatal(err)
	}
	start = func() {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.runFlow(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	return lab, sim, a, start
}

// simulatedBMCs are labsim BMCs for nodes, driving the simulator at control.
func simulatedBMCs(control string, nodes []config.Node) map[string]flow.Power {
	power := map[string]flow.Power{}
	for _, n := range nodes {
		p := &labsim.Power{Control: control, Hostname: n.Name}
		for _, nic := range n.NICs {
			p.MACs = append(p.MACs, string(nic.MAC))
		}
		power[n.Name] = p
	}
	return power
}

// waitFor polls cond a bounded number of times (a bound, not a timing assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 3000 {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("gave up waiting for %s", what)
}

func stepState(a *Appliance, name string) flow.StepRecord {
	for _, s := range a.Flow().Steps() {
		if s.Name == name {
			return s
		}
	}
	return flow.StepRecord{}
}

// TestReloadWithACorrectedTokenRestartsTheFlow: the installer refuses the offline token, the
// flow stops; a reload with the corrected token starts it again, and it installs.
func TestReloadWithACorrectedTokenRestartsTheFlow(t *testing.T) {
	lab, sim, a, start := simLab(t, "THE-RIGHT-TOKEN")
	start()
	waitFor(t, "the flow to stop on the refused token", a.flowStopped.Load)
	if s := stepState(a, "ensure-cluster"); s.State != flow.StateFailed || !strings.Contains(s.LastError, "auth") {
		t.Fatalf("ensure-cluster = %+v, want failed on auth", s)
	}
	flowLoop := func() liveness.Loop {
		for _, l := range a.Liveness().Loops() {
			if l.Name == "flow" {
				return l
			}
		}
		t.Fatal("the flow is not among the liveness loops")
		return liveness.Loop{}
	}
	if l := flowLoop(); l.Idle == "" || l.Wedged != "" || l.Beats == 0 {
		t.Errorf("stopped flow's loop = %+v; want it beaten, then idle on purpose", l)
	}
	fixed := *lab
	fixed.AssistedInstaller.OfflineToken = config.NewSecret([]byte("THE-RIGHT-TOKEN"))
	if err := a.Reload(&fixed); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the restarted flow to install", func() bool { return a.Flow().Current() == "" })
	if c, i, h := sim.Counts(); c != 1 || i != 1 || h != 5 {
		t.Errorf("simulator holds %d clusters, %d infra envs, %d hosts; want 1, 1, 5", c, i, h)
	}
}

// TestReloadWithANewClusterNameRestartsTheFlow: the installer already has two clusters of the
// lab's name (the flow cannot tell which is its own and stops); a reload with another name
// registers that one, since nothing of the lab was registered yet.
func TestReloadWithANewClusterNameRestartsTheFlow(t *testing.T) {
	tok := "FAKE-EXAMPLE-OFFLINE-TOKEN-not-a-real-token"
	lab, sim, a, start := simLab(t, tok)
	c, err := ai.New(ai.Config{URL: lab.AssistedInstaller.URL, TokenURL: lab.AssistedInstaller.TokenURL, OfflineToken: tok})
	if err != nil {
		t.Fatal(err)
	}
	pull, err := ai.PullSecret(lab.Cluster.PullSecret.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // as other users of the service would have made them
		if _, err := c.RegisterCluster(context.Background(), ai.ClusterCreateParams{Name: lab.Cluster.Name,
			OpenshiftVersion: lab.Cluster.OpenshiftVersion, BaseDNSDomain: lab.Cluster.BaseDomain, PullSecret: pull}); err != nil {
			t.Fatal(err)
		}
	}
	start()
	waitFor(t, "the flow to stop on the name clash", a.flowStopped.Load)
	if s := stepState(a, "ensure-cluster"); !strings.Contains(s.LastError, "2 clusters named") {
		t.Fatalf("ensure-cluster = %+v, want failed on the name clash", s)
	}
	renamed := *lab
	renamed.Cluster.Name = "othercluster"
	if err := a.Reload(&renamed); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the restarted flow to register othercluster", func() bool { n, _, _ := sim.Counts(); return n == 3 })
	if a.Snapshot().Lab.NeedsReprovision {
		t.Error("a rename before anything was registered marked the lab as needing reprovision")
	}
	if got := a.Flow().Lab().Cluster.Name; got != "othercluster" {
		t.Errorf("the flow installs %q, want othercluster", got)
	}
}

// TestReloadRebuildsAChangedBMC: a node's BMC moves to another address; the reload rebuilds
// its driver, and the next power call reaches the new BMC (the Redfish fake), not the old.
func TestReloadRebuildsAChangedBMC(t *testing.T) {
	lab := exampleLab(t)
	creds := bmctest.RedfishOptions{Username: lab.Nodes[0].BMC.Username, Password: string(lab.Nodes[0].BMC.Password.Reveal())}
	oldBMC, newBMC := bmctest.NewRedfish(t, creds), bmctest.NewRedfish(t, creds)
	pointAt := func(l *config.Lab, url string) *config.Lab {
		next := *l
		next.Nodes = append([]config.Node(nil), l.Nodes...)
		next.Nodes[0].BMC.Address, next.Nodes[0].BMC.Insecure = url, true
		return &next
	}
	lab = pointAt(lab, oldBMC.URL)
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a, err := New(lab, st, nil, slog.New(slog.DiscardHandler), Options{})
	if err != nil {
		t.Fatal(err)
	}
	node := lab.Nodes[0].Name
	before := a.powerDrivers()[node]
	if _, err := before.PowerState(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(pointAt(lab, newBMC.URL)); err != nil {
		t.Fatal(err)
	}
	after := a.powerDrivers()[node]
	if after == before {
		t.Fatal("the reload kept the old driver")
	}
	seenOld := len(oldBMC.Requests())
	if _, err := after.PowerState(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(newBMC.Requests()) == 0 || len(oldBMC.Requests()) != seenOld {
		t.Errorf("requests after the reload: new BMC %d, old BMC %d more; want them all at the new one",
			len(newBMC.Requests()), len(oldBMC.Requests())-seenOld)
	}
	if other := lab.Nodes[1].Name; a.powerDrivers()[other] == nil {
		t.Errorf("%s lost its driver", other)
	}
}

// TestPreflightBlocksUntilTheLabIsFixed: the preflight finds a pull secret without quay.io's
// entry and stops the flow before anything is registered; a reload with the entry added starts
// it again, and it installs.
func TestPreflightBlocksUntilTheLabIsFixed(t *testing.T) {
	full := exampleLab(t)
	var ps struct {
		Auths map[string]any `json:"auths"`
	}
	if err := json.Unmarshal(full.Cluster.PullSecret.Reveal(), &ps); err != nil {
		t.Fatal(err)
	}
	delete(ps.Auths, "quay.io")
	short, err := json.Marshal(ps)
	if err != nil {
		t.Fatal(err)
	}
	broken := *full
	broken.Cluster.PullSecret = config.NewSecret(short)
	var skip []string
	for _, c := range doctor.Names() {
		if c != "pull-secret" {
			skip = append(skip, c)
		}
	}
	lab, sim, a, start := simLabWith(t, &broken, skip, "FAKE-EXAMPLE-OFFLINE-TOKEN-not-a-real-token")
	start()
	waitFor(t, "the preflight to stop the flow", a.flowStopped.Load)
	if s := stepState(a, "preflight"); s.State != flow.StateFailed || !strings.Contains(s.LastError, "quay.io") {
		t.Fatalf("preflight = %+v, want failed naming the registry", s)
	}
	if n, _, _ := sim.Counts(); n != 0 {
		t.Fatalf("%d clusters registered before the preflight passed", n)
	}
	fixed := *lab
	fixed.Cluster.PullSecret = full.Cluster.PullSecret
	if err := a.Reload(&fixed); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the fixed lab to install", func() bool { return a.Flow().Current() == "" })
	if c, i, h := sim.Counts(); c != 1 || i != 1 || h != 5 {
		t.Errorf("simulator holds %d clusters, %d infra envs, %d hosts; want 1, 1, 5", c, i, h)
	}
}

// refusingBMC is a node whose BMC refuses every power cycle.
type refusingBMC struct{ *labsim.Power }

func (refusingBMC) PowerCycle(context.Context) error { return fmt.Errorf("reset: %w", bmc.ErrAuth) }

// TestStatusShowsANodeThatNeedsAttention: a node the flow cannot boot is on the status
// snapshot (JSON API, page, `status`) and in the metrics with its reason.
func TestStatusShowsANodeThatNeedsAttention(t *testing.T) {
	_, _, a, start := simLab(t, "FAKE-EXAMPLE-OFFLINE-TOKEN-not-a-real-token")
	a.Flow().SetPower("worker-1", refusingBMC{a.opts.Power["worker-1"].(*labsim.Power)})
	reg := prometheus.NewRegistry()
	reg.MustRegister(flowCollector{a})
	start()
	waitFor(t, "worker-1 to need attention", func() bool { return a.Flow().Nodes()["worker-1"].Attention != "" })
	var node status.Node
	for _, n := range a.Snapshot().Nodes {
		if n.Name == "worker-1" {
			node = n
		}
	}
	if !strings.Contains(node.NeedsAttention, "authentication failed") {
		t.Errorf("snapshot of worker-1 = %+v; want it to need attention for its BMC's refusal", node)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() != "cn2_appliance_node_needs_attention" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == "worker-1" {
				found = m.GetGauge().GetValue() == 1
			} else if m.GetGauge().GetValue() != 0 {
				t.Errorf("%s needs attention in the metrics", m.GetLabel()[0].GetValue())
			}
		}
	}
	if !found {
		t.Error("cn2_appliance_node_needs_attention{node=\"worker-1\"} is not 1")
	}
}
