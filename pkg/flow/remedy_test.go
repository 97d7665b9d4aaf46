package flow_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/aisim"
	"github.com/cn2-appliance/cn2-appliance/internal/labsim"
	"github.com/cn2-appliance/cn2-appliance/pkg/bmc"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/flow"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
)

// hangsOnce is a node whose first boot hangs in firmware: the BMC powers it on, but it never
// reaches the network; a later power cycle boots it.
type hangsOnce struct {
	*labsim.Power
	mu     sync.Mutex
	cycles int
	hung   bool
}

func (h *hangsOnce) PowerCycle(ctx context.Context) error {
	h.mu.Lock()
	h.cycles++
	first := h.cycles == 1
	h.hung = first
	h.mu.Unlock()
	if first {
		return nil
	}
	return h.Power.PowerCycle(ctx)
}

func (h *hangsOnce) PowerState(ctx context.Context) (bmc.PowerState, error) {
	h.mu.Lock()
	hung := h.hung
	h.mu.Unlock()
	if hung {
		return bmc.PowerOn, nil
	}
	return h.Power.PowerState(ctx)
}

// refuses is a node whose BMC refuses every power action.
type refuses struct{ *labsim.Power }

func (refuses) PowerCycle(context.Context) error {
	return fmt.Errorf("redfish reset: %w", bmc.ErrAuth)
}

func nodeEvents(t *testing.T, st *store.Store, node string) []string {
	t.Helper()
	events, err := st.Events(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range events {
		if e.Node == node {
			out = append(out, e.Message)
		}
	}
	return out
}

// TestFlowRebootsANodeHungInFirmware: a node that never registers after its boot is booted
// again once the lab's node boot timeout has passed, and the install completes.
func TestFlowRebootsANodeHungInFirmware(t *testing.T) {
	lab := exampleLab(t)
	lab.AssistedInstaller.Timeouts.NodeBoot = 4e8 // 400ms: simulated discovery takes 180ms, a stage 240ms
	sim, url := newSim(t, aisim.Options{})
	var hung *hangsOnce
	f, st := newFlowWith(t, lab, url, t.TempDir(), t.TempDir(), &fakeBoot{}, slog.New(slog.DiscardHandler),
		func(node string, p *labsim.Power) flow.Power {
			if node != "worker-1" {
				return p
			}
			hung = &hangsOnce{Power: p}
			return hung
		})
	defer st.Close()
	runToEnd(t, f)
	assertInstalledOnce(t, sim, f)
	if hung.cycles != 2 {
		t.Errorf("worker-1 was power cycled %d times, want 2 (the hung boot and one remedy)", hung.cycles)
	}
	rec := f.Nodes()["worker-1"]
	if rec.Boots != 2 || len(rec.History) != 1 || rec.History[0].Action != flow.ActReboot {
		t.Errorf("worker-1 record = %+v; want 2 boots and one reboot remedy", rec)
	}
	if ev := nodeEvents(t, st, "worker-1"); !strings.Contains(strings.Join(ev, "\n"), "not registered") {
		t.Errorf("worker-1 events %q: none says why it was rebooted", ev)
	}
	for _, n := range lab.Nodes {
		if n.Name != "worker-1" && f.Nodes()[n.Name].Boots != 1 {
			t.Errorf("%s booted %d times, want once", n.Name, f.Nodes()[n.Name].Boots)
		}
	}
}

// TestFlowMarksANodeItCannotBoot: a node whose BMC refuses is marked "needs attention" with
// the reason, and the flow goes on with the others.
func TestFlowMarksANodeItCannotBoot(t *testing.T) {
	lab := exampleLab(t)
	_, url := newSim(t, aisim.Options{})
	f, st := newFlowWith(t, lab, url, t.TempDir(), t.TempDir(), &fakeBoot{}, slog.New(slog.DiscardHandler),
		func(node string, p *labsim.Power) flow.Power {
			if node == "worker-1" {
				return refuses{p}
			}
			return p
		})
	defer st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	for ctx.Err() == nil {
		if f.Nodes()["worker-1"].Attention != "" && f.State().Hosts["worker-0"] != "" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	rec := f.Nodes()["worker-1"]
	if !strings.Contains(rec.Attention, "authentication failed") {
		t.Errorf("worker-1 attention = %q, want the BMC's refusal", rec.Attention)
	}
	if f.State().Hosts["worker-0"] == "" {
		t.Error("worker-0 was not bound while worker-1 needed attention")
	}
	if f.Current() != "discover-workers" {
		t.Errorf("flow at %q, want it waiting in discover-workers", f.Current())
	}
	if ev := nodeEvents(t, st, "worker-1"); !strings.Contains(strings.Join(ev, "\n"), "needs attention") {
		t.Errorf("worker-1 events %q: none says it needs attention", ev)
	}
}

// TestVirtualMediaIsEjectedAfterTheImageIsWritten: nodes that boot the discovery ISO as
// virtual media get it attached and boot from the CD, and once their image is written the ISO
// is ejected and they boot from disk.
func TestVirtualMediaIsEjectedAfterTheImageIsWritten(t *testing.T) {
	lab := exampleLab(t)
	for i := range lab.Nodes {
		lab.Nodes[i].BootMethod = config.BootVirtualMedia
	}
	sim, url := newSim(t, aisim.Options{})
	nodes := map[string]*labsim.Power{}
	f, st := newFlowWith(t, lab, url, t.TempDir(), t.TempDir(), &fakeBoot{}, slog.New(slog.DiscardHandler),
		func(node string, p *labsim.Power) flow.Power {
			nodes[node] = p
			return p
		})
	defer st.Close()
	runToEnd(t, f)
	assertInstalledOnce(t, sim, f)
	if f.State().ISOURL == "" {
		t.Error("the flow kept no ISO URL")
	}
	for name, p := range nodes {
		if got := p.Counts(); got.DiscoveryBoots != 1 {
			t.Errorf("%s booted the discovery image %d times, want once (from the CD)", name, got.DiscoveryBoots)
		}
		if m := p.Media(); m != "" {
			t.Errorf("%s still has %q attached after the install", name, m)
		}
	}
}

// TestAPullSecretTheInstallerRefusesStopsTheFlow: the installer refuses an auth that is not
// user:password, as the real service does; the flow stops with the service's reason instead
// of retrying.
func TestAPullSecretTheInstallerRefusesStopsTheFlow(t *testing.T) {
	lab := exampleLab(t)
	lab.Cluster.PullSecret = config.NewSecret([]byte(`{"auths":{"quay.io":{"auth":"bm8tY29sb24="}}}`)) // "no-colon"
	sim, url := newSim(t, aisim.Options{})
	f, st := newFlow(t, lab, url, t.TempDir(), t.TempDir(), &fakeBoot{})
	defer st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := f.Run(ctx)
	if !errors.Is(err, flow.ErrStopped) {
		t.Fatalf("Run = %v, want the flow stopped", err)
	}
	rec := f.Steps()[slices.IndexFunc(f.Steps(), func(s flow.StepRecord) bool { return s.Name == "ensure-cluster" })]
	if rec.Attempts != 1 || !strings.Contains(rec.LastError, "'auth' for quay.io is not in 'user:password' format") {
		t.Errorf("ensure-cluster = %+v; want one attempt failed with the service's reason", rec)
	}
	if c, _, _ := sim.Counts(); c != 0 {
		t.Errorf("%d clusters registered", c)
	}
}

// TestAStrangerIsNeverInstalled: a machine the lab does not declare boots the discovery image;
// the installer binds it to the cluster (early binding), the flow removes it and installs the
// lab's five nodes only.
func TestAStrangerIsNeverInstalled(t *testing.T) {
	lab := exampleLab(t)
	sim, url := newSim(t, aisim.Options{})
	f, st := newFlow(t, lab, url, t.TempDir(), t.TempDir(), &fakeBoot{})
	defer st.Close()
	const stranger = "52:54:00:5e:e5:99"
	go func() {
		for range 3000 { // a bound, not a timing assertion
			if f.State().InfraEnvID != "" {
				if err := sim.NodeBooted(aisim.Node{MACs: []string{stranger}, Hostname: "stranger"}); err != nil {
					t.Errorf("boot the stranger: %v", err)
				}
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	runToEnd(t, f)
	assertInstalledOnce(t, sim, f)
	if status := sim.HostStatus(stranger); status != "" {
		t.Errorf("the stranger's host is %s, want it removed", status)
	}
	if ev := nodeEvents(t, st, ""); !strings.Contains(strings.Join(ev, "\n"), "not a lab node") {
		t.Error("no event says the stranger was removed")
	}
}

// TestManifestsAreNotPostedAgainAfterALostState: the state folder is lost after the install;
// a new run finds the cluster and its manifests, compares their contents and posts none again.
func TestManifestsAreNotPostedAgainAfterALostState(t *testing.T) {
	lab := exampleLab(t)
	var mu sync.Mutex
	posts := 0
	sim, url := newSimWith(t, aisim.Options{}, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/manifests") {
				mu.Lock()
				posts++
				mu.Unlock()
			}
			next.ServeHTTP(w, r)
		})
	})
	f, st := newFlow(t, lab, url, t.TempDir(), t.TempDir(), &fakeBoot{})
	runToEnd(t, f)
	st.Close()
	first := posts
	if first == 0 {
		t.Fatal("the install posted no manifest")
	}
	again, st2 := newFlow(t, lab, url, t.TempDir(), t.TempDir(), &fakeBoot{}) // a new, empty state folder
	defer st2.Close()
	runToEnd(t, again)
	assertInstalledOnce(t, sim, again)
	if posts != first {
		t.Errorf("the second run posted %d manifests again to the installed cluster", posts-first)
	}
}
