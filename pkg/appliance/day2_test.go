package appliance

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/aisim"
	"github.com/cn2-appliance/cn2-appliance/internal/labsim"
	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/doctor"
	"github.com/cn2-appliance/cn2-appliance/pkg/flow"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
	"github.com/prometheus/client_golang/prometheus"
)

// day2Lab is simLab for the example lab, with simulated BMCs also for extra workers to be
// added later, and the simulator's cluster API as the installed cluster's.
func day2Lab(t *testing.T, extra int) (lab *config.Lab, workers []config.Node, sim *aisim.Sim, a *Appliance, start func()) {
	t.Helper()
	lab = exampleLab(t)
	sim, err := aisim.New(aisim.Options{TimeScale: 0.002, Auth: &aisim.Auth{OfflineTokens: []string{"FAKE-EXAMPLE-OFFLINE-TOKEN-not-a-real-token"}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Close)
	t.Cleanup(func() {
		for _, v := range sim.Violations() {
			t.Errorf("simulator answer violates the spec: %v", v)
		}
	})
	lab.AssistedInstaller.URL, lab.AssistedInstaller.TokenURL = srv.URL, srv.URL+aisim.TokenPath
	if workers, err = labsim.NewWorkers(lab, extra); err != nil {
		t.Fatal(err)
	}
	power := simulatedBMCs(srv.URL, append(slices.Clone(lab.Nodes), workers...))
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a, err = New(lab, st, prometheus.NewRegistry(), slog.New(slog.DiscardHandler),
		Options{Power: power, PollInterval: 10 * time.Millisecond, SkipPreflight: doctor.Names(), ClusterAPI: sim.ClusterAPI(),
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
	return lab, workers, sim, a, start
}

func withNodes(lab *config.Lab, nodes []config.Node) *config.Lab {
	next := *lab
	next.Nodes = nodes
	return &next
}

// hostStatuses is the status of every host the simulator holds, by host name.
func hostStatuses(t *testing.T, a *Appliance) map[string]string {
	t.Helper()
	f := a.Flow()
	c, err := newAIClient(a.Lab(), nil, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, ie := range []string{f.State().InfraEnvID, f.State().Day2InfraEnvID} {
		if ie == "" {
			continue
		}
		hosts, err := c.InfraEnvHosts(context.Background(), ie)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hosts {
			out[h.Name()] = h.Status
		}
	}
	return out
}

// TestDay2AddWorkers: after the install, a reload that adds two workers (with
// reprovisionOnChange set) does not reinstall: the same cluster takes them as day-2 workers,
// their CSRs are approved through the cluster API and their nodes are Ready; the five
// installed hosts are untouched, and seven hosts are installed in one cluster.
func TestDay2AddWorkers(t *testing.T) {
	lab, workers, sim, a, start := day2Lab(t, 2)
	start()
	waitFor(t, "the install", func() bool { return a.Flow().Current() == "" })
	first := a.Flow().State().ClusterID
	installedAt := map[string]string{}
	for name, s := range hostStatuses(t, a) {
		installedAt[name] = s
	}

	next := withNodes(lab, append(slices.Clone(lab.Nodes), workers...))
	next.AssistedInstaller.ReprovisionOnChange = true
	if err := a.Reload(next); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the day-2 workers to join", func() bool {
		f := a.Flow()
		return len(f.Lab().Nodes) == 7 && f.Current() == "" && len(f.State().Members) == 7
	})
	f := a.Flow()
	if id := f.State().ClusterID; id != first {
		t.Fatalf("cluster %s after day-2, want the original %s", id, first)
	}
	statuses := hostStatuses(t, a)
	for name, s := range installedAt {
		if statuses[name] != s {
			t.Errorf("installed host %s went from %s to %s", name, s, statuses[name])
		}
	}
	for _, w := range workers {
		if s := statuses[w.Name]; s != ai.HostAddedToExistingCluster {
			t.Errorf("day-2 worker %s: host %s, want %s", w.Name, s, ai.HostAddedToExistingCluster)
		}
		if m := f.State().Members[w.Name]; m != flow.MemberDay2 {
			t.Errorf("%s is a %q member, want day2", w.Name, m)
		}
		if ready, _, _ := sim.ClusterAPI().NodeReady(context.Background(), w.Name); !ready {
			t.Errorf("%s's node is not Ready", w.Name)
		}
	}
	if c, i, h := sim.Counts(); c != 1 || i != 2 || h != 7 {
		t.Errorf("the installer holds %d clusters, %d infra envs, %d hosts; want 1, 2, 7", c, i, h)
	}
	if got := sim.Stats().CSRsApproved; got != 4 {
		t.Errorf("%d CSRs approved, want 4 (client and serving of each new worker)", got)
	}
	snap := a.Snapshot()
	if snap.Lab.NeedsReprovision {
		t.Error("adding workers flagged the lab for reprovisioning")
	}
	for _, n := range snap.Nodes { // the status page shows the install's hosts and the new ones
		if want := map[bool]string{true: ai.HostAddedToExistingCluster, false: "installed"}[n.Name == workers[0].Name || n.Name == workers[1].Name]; n.HostStatus != want {
			t.Errorf("status page: %s's host is %q, want %q", n.Name, n.HostStatus, want)
		}
	}
	for _, s := range f.Steps() {
		if slices.Contains(flow.Day2StepNames, s.Name) && s.State != flow.StateDone {
			t.Errorf("step %s is %s", s.Name, s.State)
		}
	}
}

// TestDay2RemovedWorkerIsOnlyFlagged: a reload without an installed worker deletes nothing
// (no reinstall, even with reprovisionOnChange; its host stays): the status page and an event
// say it is gone from the lab file.
func TestDay2RemovedWorkerIsOnlyFlagged(t *testing.T) {
	lab, _, sim, a, start := day2Lab(t, 0)
	start()
	waitFor(t, "the install", func() bool { return a.Flow().Current() == "" && a.Flow().State().Members != nil })
	first := a.Flow().State().ClusterID
	var kept []config.Node
	for _, n := range lab.Nodes {
		if n.Name != "worker-1" {
			kept = append(kept, n)
		}
	}
	next := withNodes(lab, kept)
	next.AssistedInstaller.ReprovisionOnChange = true
	if err := a.Reload(next); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the flow with the reloaded lab", func() bool { return len(a.Flow().Lab().Nodes) == 4 && a.Flow().Current() == "" })
	snap := a.Snapshot()
	if !slices.Equal(snap.Lab.RemovedNodes, []string{"worker-1"}) {
		t.Errorf("status page: removed nodes %v, want [worker-1]", snap.Lab.RemovedNodes)
	}
	if snap.Lab.NeedsReprovision {
		t.Error("removing a worker flagged the lab for reprovisioning")
	}
	found := false
	for _, e := range snap.Events {
		if e.Level == "warn" && containsAll(e.Message, "worker-1", "nothing is deleted") {
			found = true
		}
	}
	if !found {
		t.Errorf("no event says worker-1 is gone from the lab file: %+v", snap.Events)
	}
	if id := a.Flow().State().ClusterID; id != first {
		t.Errorf("cluster %s, want the original %s", id, first)
	}
	if c, i, h := sim.Counts(); c != 1 || i != 1 || h != 5 {
		t.Errorf("the installer holds %d clusters, %d infra envs, %d hosts; want 1, 1, 5", c, i, h)
	}
	if s := hostStatuses(t, a)["worker-1"]; s != "installed" {
		t.Errorf("worker-1's host is %q, want installed", s)
	}
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// TestWorkersOnly: a reload is a day-2 change only when all it changes of what the installer
// was given is workers added or removed.
func TestWorkersOnly(t *testing.T) {
	lab := exampleLab(t)
	workers, err := labsim.NewWorkers(lab, 1)
	if err != nil {
		t.Fatal(err)
	}
	plus := withNodes(lab, append(slices.Clone(lab.Nodes), workers...))
	minus := withNodes(lab, slices.DeleteFunc(slices.Clone(lab.Nodes), func(n config.Node) bool { return n.Name == "worker-0" }))
	both := withNodes(minus, append(slices.Clone(minus.Nodes), workers...))
	cp := workers[0]
	cp.Role = config.RoleControlPlane
	newMaster := withNodes(lab, append(slices.Clone(lab.Nodes), cp))
	otherVIP := withNodes(plus, plus.Nodes)
	otherVIP.Cluster.IngressVIP = otherVIP.Cluster.IngressVIP.Next()
	changedMAC := withNodes(plus, slices.Clone(plus.Nodes))
	changedMAC.Nodes[0].NICs = slices.Clone(changedMAC.Nodes[0].NICs)
	changedMAC.Nodes[0].NICs[0].MAC = "52:54:00:00:0f:ff"
	for _, tc := range []struct {
		name           string
		next           *config.Lab
		ok             bool
		added, removed []string
	}{
		{"a worker added", plus, true, []string{workers[0].Name}, nil},
		{"a worker removed", minus, true, nil, []string{"worker-0"}},
		{"one added, one removed", both, true, []string{workers[0].Name}, []string{"worker-0"}},
		{"a control-plane node added", newMaster, false, nil, nil},
		{"a worker added and a VIP changed", otherVIP, false, nil, nil},
		{"a worker added and a MAC changed", changedMAC, false, nil, nil},
		{"nothing changed", withNodes(lab, lab.Nodes), false, nil, nil},
	} {
		added, removed, ok := workersOnly(lab, tc.next)
		if ok != tc.ok || (ok && (!slices.Equal(added, tc.added) || !slices.Equal(removed, tc.removed))) {
			t.Errorf("%s: added %v, removed %v, ok %v; want %v, %v, %v", tc.name, added, removed, ok, tc.added, tc.removed, tc.ok)
		}
	}
}

// TestDay2WorkersAddedWhileStopped: workers added to the lab file while the appliance was
// stopped join when it starts again with it.
func TestDay2WorkersAddedWhileStopped(t *testing.T) {
	lab, workers, sim, a, _ := day2Lab(t, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.runFlow(ctx) }()
	waitFor(t, "the install", func() bool { return a.Flow().Current() == "" && a.Flow().State().Members != nil })
	cancel()
	<-done

	next := withNodes(lab, append(slices.Clone(lab.Nodes), workers...))
	b, err := New(next, a.store, prometheus.NewRegistry(), slog.New(slog.DiscardHandler), a.opts)
	if err != nil {
		t.Fatal(err)
	}
	if cur := b.Flow().Current(); cur != "add-hosts" {
		t.Fatalf("the flow of the restarted appliance resumes at %q, want add-hosts", cur)
	}
	ctx, cancel = context.WithCancel(context.Background())
	done = make(chan error, 1)
	go func() { done <- b.runFlow(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, "the day-2 worker to join", func() bool { return b.Flow().Current() == "" && len(b.Flow().State().Members) == 6 })
	if c, i, h := sim.Counts(); c != 1 || i != 2 || h != 6 {
		t.Errorf("the installer holds %d clusters, %d infra envs, %d hosts; want 1, 2, 6", c, i, h)
	}
}
