package flow_test

import (
	"context"
	"github.com/cn2-appliance/cn2-appliance/internal/testlab"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/aisim"
	"github.com/cn2-appliance/cn2-appliance/internal/aisim/spec"
	"github.com/cn2-appliance/cn2-appliance/internal/labsim"
	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/flow"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
)

// The install takes a few seconds of simulated time at this scale.
const timeScale = 0.002

func exampleLab(t *testing.T) *config.Lab { return testlab.Example(t) }

// fakeBoot records boot profiles; the artifacts are not needed by the simulated nodes.
type fakeBoot struct {
	mu          sync.Mutex
	profiles    map[string]string
	scripts     int
	images      []string // the image identity of each CacheIPXEArtifacts
	invalidated int
}

func (b *fakeBoot) SetProfile(mac, profile string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.profiles == nil {
		b.profiles = map[string]string{}
	}
	b.profiles[mac] = profile
	return nil
}

func (b *fakeBoot) CacheIPXEArtifacts(_ context.Context, image string, script []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !strings.HasPrefix(string(script), "#!ipxe") || image == "" {
		return os.ErrInvalid
	}
	b.scripts++
	b.images = append(b.images, image)
	return nil
}

func (b *fakeBoot) CacheISO(_ context.Context, image, url string) (string, error) {
	if image == "" {
		return "", os.ErrInvalid
	}
	return "http://172.16.0.1:8080/discovery.iso", nil
}

func (b *fakeBoot) InvalidateBootCache() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.invalidated++
	return nil
}

func (b *fakeBoot) profile(mac config.MAC) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.profiles[string(mac)]
}

// newSim starts a simulator that accepts the example lab's offline token.
func newSim(t *testing.T, opts aisim.Options) (*aisim.Sim, string) {
	t.Helper()
	return newSimWith(t, opts, nil)
}

// newSimWith is newSim with the simulator's handler wrapped by wrap (when not nil).
func newSimWith(t *testing.T, opts aisim.Options, wrap func(http.Handler) http.Handler) (*aisim.Sim, string) {
	t.Helper()
	opts.Auth = &aisim.Auth{OfflineTokens: []string{"FAKE-EXAMPLE-OFFLINE-TOKEN-not-a-real-token"}}
	if opts.TimeScale == 0 {
		opts.TimeScale = timeScale
	}
	sim, err := aisim.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = sim
	if wrap != nil {
		h = wrap(sim)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		sim.Close()
		srv.Close()
		for _, v := range sim.Violations() {
			t.Errorf("simulator answer violates the spec: %v", v)
		}
	})
	return sim, srv.URL
}

// newFlow builds a flow for lab against the simulator at url, with simulated BMCs and a
// spec-checking transport under the client.
func newFlow(t *testing.T, lab *config.Lab, url, stateDir, outDir string, boot flow.BootService) (*flow.Flow, *store.Store) {
	t.Helper()
	return newFlowLog(t, lab, url, stateDir, outDir, boot, slog.New(slog.DiscardHandler))
}

// newFlowLog is newFlow with the flow logging to log.
func newFlowLog(t *testing.T, lab *config.Lab, url, stateDir, outDir string, boot flow.BootService, log *slog.Logger) (*flow.Flow, *store.Store) {
	t.Helper()
	return newFlowWith(t, lab, url, stateDir, outDir, boot, log, nil)
}

// newFlowWith is newFlowLog with each node's simulated BMC passed through wrap (when not nil).
func newFlowWith(t *testing.T, lab *config.Lab, url, stateDir, outDir string, boot flow.BootService, log *slog.Logger,
	wrap func(node string, p *labsim.Power) flow.Power) (*flow.Flow, *store.Store) {
	t.Helper()
	return newFlowDeps(t, lab, url, stateDir, outDir, boot, log, wrap, nil)
}

// newFlowDeps is newFlowWith with the flow's Deps changed by edit (when not nil).
func newFlowDeps(t *testing.T, lab *config.Lab, url, stateDir, outDir string, boot flow.BootService, log *slog.Logger,
	wrap func(node string, p *labsim.Power) flow.Power, edit func(*flow.Deps)) (*flow.Flow, *store.Store) {
	t.Helper()
	st, err := store.Open(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := spec.Load()
	if err != nil {
		t.Fatal(err)
	}
	cfg := ai.Config{URL: url, BackoffBase: time.Millisecond, BackoffMax: 10 * time.Millisecond,
		HTTPClient: &http.Client{Transport: &spec.Transport{Spec: sp, Report: func(err error) {
			log.Error("contract violation", "err", err) // seen by TestCrashSafety's parent, which kills this process
			t.Errorf("contract: %v", err)
		}}}}
	if lab.AssistedInstaller.OfflineToken.IsSet() {
		cfg.OfflineToken = string(lab.AssistedInstaller.OfflineToken.Reveal())
		cfg.TokenURL = url + aisim.TokenPath
	}
	client, err := ai.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	power := map[string]flow.Power{}
	for _, n := range lab.Nodes {
		p := &labsim.Power{Control: url, Hostname: n.Name}
		for _, nic := range n.NICs {
			p.MACs = append(p.MACs, string(nic.MAC))
		}
		power[n.Name] = p
		if wrap != nil {
			power[n.Name] = wrap(n.Name, p)
		}
	}
	d := flow.Deps{Lab: lab, AI: client, Power: power, Boot: boot, Store: st,
		Log: log, OutputDir: outDir, PollInterval: 10 * time.Millisecond, RetryDelay: 5 * time.Millisecond}
	if edit != nil {
		edit(&d)
	}
	f, err := flow.New(d)
	if err != nil {
		t.Fatal(err)
	}
	return f, st
}

func runToEnd(t *testing.T, f *flow.Flow) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := f.Run(ctx); err != nil {
		t.Fatalf("flow: %v (steps %+v)", err, f.Steps())
	}
}

func TestWholeFlowToInstalled(t *testing.T) {
	lab := exampleLab(t)
	sim, url := newSim(t, aisim.Options{})
	out := t.TempDir()
	boot := &fakeBoot{}
	f, st := newFlow(t, lab, url, t.TempDir(), out, boot)
	defer st.Close()
	runToEnd(t, f)

	for _, s := range f.Steps() {
		if s.State != flow.StateDone {
			t.Errorf("step %s is %s", s.Name, s.State)
		}
	}
	if c, i, h := sim.Counts(); c != 1 || i != 1 || h != 5 {
		t.Errorf("simulator holds %d clusters, %d infra envs, %d hosts; want 1, 1, 5", c, i, h)
	}
	obs := f.Observed()
	if obs.Cluster == nil || obs.Cluster.Status != "installed" || !strings.Contains(obs.Cluster.InstallConfigOverrides, "Contrail") {
		t.Errorf("cluster = %+v", obs.Cluster)
	}
	byName := map[string]ai.Host{}
	for _, h := range obs.Hosts {
		byName[h.Name()] = h
	}
	for _, n := range lab.Nodes {
		h, ok := byName[n.Name]
		if !ok {
			t.Errorf("no host named %s", n.Name)
			continue
		}
		want := config.HostRoleWorker
		if n.Role == config.RoleControlPlane {
			want = config.HostRoleMaster
		}
		if h.Role != want || h.Status != "installed" {
			t.Errorf("host %s: role %s status %s", n.Name, h.Role, h.Status)
		}
		labels, _ := h.Labels()
		if n.DPDK != (labels["agent-mode"] == "dpdk") {
			t.Errorf("host %s labels %v", n.Name, labels)
		}
		if got := boot.profile(n.NICs[0].MAC); got != flow.ProfileDisk {
			t.Errorf("node %s boot profile %q, want disk", n.Name, got)
		}
	}
	for _, name := range []string{"kubeconfig", "kubeadmin-password"} {
		info, err := os.Stat(filepath.Join(out, name))
		if err != nil || info.Mode().Perm() != 0o600 || info.Size() == 0 {
			t.Errorf("%s: %v %v", name, info, err)
		}
	}
	manifests := f.State().Manifests
	for _, want := range []string{"100-contrail-namespace.yaml", "101-contrail-deploy-namespace.yaml", "registry-secret.yaml", "99-network-configmap.yaml"} {
		if manifests[want] == "" {
			t.Errorf("manifest %s not uploaded (have %v)", want, manifests)
		}
	}
	if boot.scripts != 1 {
		t.Errorf("iPXE artifacts cached %d times", boot.scripts)
	}
}

func assertInstalledOnce(t *testing.T, sim *aisim.Sim, f *flow.Flow) {
	t.Helper()
	for _, s := range f.Steps() {
		if s.State != flow.StateDone {
			t.Errorf("step %s is %s", s.Name, s.State)
		}
	}
	if c, i, h := sim.Counts(); c != 1 || i != 1 || h != 5 {
		t.Errorf("simulator holds %d clusters, %d infra envs, %d hosts; want 1, 1, 5", c, i, h)
	}
	if obs := f.Observed(); obs.Cluster == nil || obs.Cluster.Status != "installed" {
		t.Errorf("cluster = %+v", obs.Cluster)
	}
}

// TestFlowWithFaults: a fifth of the requests fail with 5xx, every answer is late, and the
// access token expires during the install; the flow still ends installed, with one cluster.
func TestFlowWithFaults(t *testing.T) {
	lab := exampleLab(t)
	sim, url := newSim(t, aisim.Options{
		Faults: aisim.Faults{ErrorRate: 0.2, Latency: 2 * time.Millisecond},
		Seed:   7,
	})
	f, st := newFlow(t, lab, url, t.TempDir(), t.TempDir(), &fakeBoot{})
	defer st.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// Expire the token once the install is under way.
		for f.Current() != "wait-ready" && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		sim.ExpireAccessTokens()
	}()
	runToEnd(t, f)
	assertInstalledOnce(t, sim, f)
	if st := sim.Stats(); st.FaultsServed == 0 || st.TokenGrants < 2 {
		t.Errorf("faults served %d, tokens granted %d: want faults and a token refresh", st.FaultsServed, st.TokenGrants)
	}
}

// TestFlowPowersOnANodeThatStayedOff: a node powers off instead of rebooting after writing its
// image (a known stall); the flow powers it on and the install completes.
func TestFlowPowersOnANodeThatStayedOff(t *testing.T) {
	lab := exampleLab(t)
	sim, url := newSim(t, aisim.Options{})
	sim.PowerOffOnReboot("52:54:00:00:00:12")
	f, st := newFlow(t, lab, url, t.TempDir(), t.TempDir(), &fakeBoot{})
	defer st.Close()
	runToEnd(t, f)
	assertInstalledOnce(t, sim, f)
	events, err := st.Events(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range events {
		if e.Node == "master-1" && strings.Contains(e.Message, "powered off instead of rebooting") {
			found = true
		}
	}
	if !found {
		t.Error("no event says master-1 was powered on")
	}
}

// TestReprovision: after an install, reprovisioning deletes the cluster and the next run is a
// second clean install.
func TestReprovision(t *testing.T) {
	lab := exampleLab(t)
	sim, url := newSim(t, aisim.Options{})
	boot := &fakeBoot{}
	f, st := newFlow(t, lab, url, t.TempDir(), t.TempDir(), boot)
	defer st.Close()
	runToEnd(t, f)
	first := f.State().ClusterID
	if err := f.Reprovision(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c, i, _ := sim.Counts(); c != 0 || i != 0 {
		t.Errorf("after reprovision the simulator holds %d clusters and %d infra envs", c, i)
	}
	if s := f.Steps()[0]; s.State != flow.StatePending || f.State().ClusterID != "" {
		t.Errorf("after reprovision: step %+v, state %+v", s, f.State())
	}
	if got := boot.profile("52:54:00:00:00:11"); got != flow.ProfileDiscovery {
		t.Errorf("boot profile after reprovision %q", got)
	}
	if boot.invalidated != 1 {
		t.Errorf("reprovision invalidated the boot cache %d times, want once", boot.invalidated)
	}
	runToEnd(t, f)
	assertInstalledOnce(t, sim, f)
	if f.State().ClusterID == first {
		t.Error("the second install reused the deleted cluster's id")
	}
	// Each install caches the artifacts of its own infra env's image.
	if len(boot.images) != 2 || boot.images[0] == boot.images[1] || !strings.HasPrefix(boot.images[1], f.State().InfraEnvID+" ") {
		t.Errorf("boot images cached %q, want two, the second of infra env %s", boot.images, f.State().InfraEnvID)
	}
}

// TestLabOverridesAndIgnition: the lab's own install-config overrides and Ignition files reach
// the installer, merged with what CN2 needs.
func TestLabOverridesAndIgnition(t *testing.T) {
	lab := exampleLab(t)
	lab.Cluster.InstallConfigOverrides = map[string]any{"fips": false, "networking": map[string]any{"clusterNetworkMTU": 1400}}
	lab.Cluster.Ignition = [][]byte{[]byte(`{"ignition":{"version":"3.2.0"},"storage":{"files":[{"path":"/etc/motd.d/lab","mode":420,"contents":{"source":"data:,cn2%20lab%0A"}}]}}`)}
	sim, url := newSim(t, aisim.Options{})
	f, st := newFlow(t, lab, url, t.TempDir(), t.TempDir(), &fakeBoot{})
	defer st.Close()
	runToEnd(t, f)
	assertInstalledOnce(t, sim, f)
	got, err := ai.ParseInstallConfigOverride(f.Observed().Cluster.InstallConfigOverrides)
	if err != nil {
		t.Fatal(err)
	}
	networking, _ := got["networking"].(map[string]any)
	if got["fips"] != false || networking["networkType"] != "Contrail" || networking["clusterNetworkMTU"] != float64(1400) {
		t.Errorf("install-config overrides at the installer: %v", got)
	}
	client, err := ai.New(ai.Config{URL: url, OfflineToken: string(lab.AssistedInstaller.OfflineToken.Reveal()), TokenURL: url + aisim.TokenPath})
	if err != nil {
		t.Fatal(err)
	}
	ie, err := client.GetInfraEnv(context.Background(), f.State().InfraEnvID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ie.IgnitionConfigOverride, "/etc/motd.d/lab") || !strings.Contains(ie.IgnitionConfigOverride, "ca-patch") {
		t.Errorf("ignition override lacks the lab's file or the CN2 patch: %s", ie.IgnitionConfigOverride)
	}
}
