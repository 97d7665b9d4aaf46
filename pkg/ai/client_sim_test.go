package ai_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/aisim"
	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
)

type lab struct {
	name, mac, ip, role string
}

var nodes = []lab{
	{"master-0", "52:54:00:00:00:11", "172.16.0.11/24", ai.RoleMaster},
	{"master-1", "52:54:00:00:00:12", "172.16.0.12/24", ai.RoleMaster},
	{"master-2", "52:54:00:00:00:13", "172.16.0.13/24", ai.RoleMaster},
	{"worker-0", "52:54:00:00:00:14", "172.16.0.14/24", ai.RoleWorker},
	{"worker-1", "52:54:00:00:00:15", "172.16.0.15/24", ai.RoleWorker},
}

// TestInstallAgainstSimulator walks the runbook with every client operation, step by step.
func TestInstallAgainstSimulator(t *testing.T) {
	h := newHarness(t, aisim.Options{}, ai.Config{})
	ctx := h.ctx
	c := h.c

	vers, err := c.OpenshiftVersions(ctx, "", false)
	if err != nil || len(vers) == 0 {
		t.Fatalf("versions: %v %v", vers, err)
	}
	cl := h.registerCluster("mycluster", false)
	if cl.Status != ai.ClusterInsufficient {
		t.Fatalf("new cluster status %q", cl.Status)
	}
	found, err := c.FindClusterByName(ctx, "mycluster")
	if err != nil || len(found) != 1 || found[0].ID != cl.ID {
		t.Fatalf("find by name: %v %v", found, err)
	}

	// CN2 network type through the install-config override, read back.
	ov, _ := ai.InstallConfigOverride(map[string]any{"networking": map[string]any{"networkType": "Contrail"}})
	if err := c.UpdateInstallConfig(ctx, cl.ID, ov); err != nil {
		t.Fatal(err)
	}
	ic, err := c.GetInstallConfig(ctx, cl.ID)
	if err != nil || !strings.Contains(ic, "networkType: Contrail") {
		t.Fatalf("install-config: %v\n%s", err, ic)
	}
	if err := c.UpdateInstallConfig(ctx, cl.ID, `{"networking":{"networkTyp":"Contrail"}}`); !errors.Is(err, ai.ErrBadRequest) {
		t.Errorf("misspelled override: %v, want 400", err)
	}
	got, _ := c.GetCluster(ctx, cl.ID, true)
	if m, _ := ai.ParseInstallConfigOverride(got.InstallConfigOverrides); m["networking"] == nil {
		t.Errorf("override not stored: %q", got.InstallConfigOverrides)
	}

	ie := h.registerInfraEnv(cl.ID)
	override, err := ai.BuildIgnitionOverride(true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateInfraEnv(ctx, ie.ID, ai.InfraEnvUpdateParams{IgnitionConfigOverride: override}); err != nil {
		t.Fatal(err)
	}
	ies, err := c.ListInfraEnvs(ctx, cl.ID)
	if err != nil || len(ies) != 1 || ies[0].IgnitionConfigOverride != override {
		t.Fatalf("list infra-envs: %v %v", ies, err)
	}
	if u, err := c.ImageURL(ctx, ie.ID); err != nil || !strings.Contains(u.URL, ie.ID) {
		t.Fatalf("image url: %v %v", u, err)
	}
	script, err := c.IPXEScript(ctx, ie.ID, "", "")
	if err != nil || !strings.HasPrefix(string(script), "#!ipxe") {
		t.Fatalf("ipxe: %q %v", script, err)
	}
	ign, err := c.DiscoveryIgnition(ctx, ie.ID)
	if err != nil || !strings.Contains(string(ign), ai.CAPatchScriptPath) {
		t.Fatalf("discovery.ign lacks the override: %v\n%s", err, ign)
	}

	// Boot every node; hosts appear only after the discovery delay.
	for _, n := range nodes {
		if err := h.sim.NodeBooted(aisim.Node{MACs: []string{n.mac}, IPs: []string{n.ip}}); err != nil {
			t.Fatal(err)
		}
	}
	if hosts, _ := c.InfraEnvHosts(ctx, ie.ID); len(hosts) != 0 {
		t.Fatalf("%d hosts before the discovery delay", len(hosts))
	}
	h.clock.Advance(aisim.DefaultTimings.Discovery)
	hosts, err := c.InfraEnvHosts(ctx, ie.ID)
	if err != nil || len(hosts) != len(nodes) {
		t.Fatalf("hosts: %d %v", len(hosts), err)
	}
	for _, n := range nodes {
		host := ai.HostByMAC(hosts, n.mac)
		if host == nil {
			t.Fatalf("no host with MAC %s", n.mac)
		}
		up, err := c.UpdateHost(ctx, ie.ID, host.ID, ai.HostUpdateParams{HostName: ptr(n.name), HostRole: ptr(n.role)})
		if err != nil || up.RequestedHostname != n.name || up.Role != n.role {
			t.Fatalf("bind %s: %+v %v", n.name, up, err)
		}
	}
	dpdk := ai.HostByMAC(hosts, nodes[4].mac)
	labels := []ai.NodeLabel{{Key: "agent-mode", Value: "dpdk"}, {Key: "node-role.kubernetes.io/dpdk", Value: ""}}
	up, err := c.UpdateHost(ctx, ie.ID, dpdk.ID, ai.HostUpdateParams{NodeLabels: &labels})
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := up.Labels(); l["agent-mode"] != "dpdk" {
		t.Errorf("labels %v", l)
	}
	if _, err := c.UpdateHost(ctx, ie.ID, dpdk.ID, ai.HostUpdateParams{NodeLabels: &[]ai.NodeLabel{{Key: "bad key", Value: "x"}}}); !errors.Is(err, ai.ErrBadRequest) {
		t.Errorf("bad label: %v", err)
	}

	// Without VIPs the cluster stays insufficient and says why; install is refused with 409.
	got, _ = c.GetCluster(ctx, cl.ID, false)
	vals, _ := ai.ParseValidations(got.ValidationsInfo)
	if got.Status != ai.ClusterInsufficient || !hasFailing(vals, "api-vips-defined") {
		t.Fatalf("before VIPs: %s %v", got.Status, vals.Failing())
	}
	if _, err := c.InstallCluster(ctx, cl.ID); !errors.Is(err, ai.ErrConflict) {
		t.Fatalf("install when insufficient: %v", err)
	}
	got, err = c.UpdateCluster(ctx, cl.ID, ai.ClusterUpdateParams{
		APIVIPs: &[]ai.VIP{{IP: "172.16.0.100"}}, IngressVIPs: &[]ai.VIP{{IP: "172.16.0.101"}}})
	if err != nil || got.Status != ai.ClusterReady || len(got.APIVIPs) != 1 {
		t.Fatalf("after VIPs: %v %v", got, err)
	}

	// Manifests.
	cm := []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: contrail-network-config\n  namespace: contrail\n")
	if _, err := c.CreateManifest(ctx, cl.ID, ai.FolderManifests, "99-network-configmap.yaml", cm); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateManifest(ctx, cl.ID, ai.FolderManifests, "junk.yaml", []byte("a: [")); !errors.Is(err, ai.ErrBadRequest) {
		t.Errorf("bad yaml: %v", err)
	}
	if _, err := c.CreateManifest(ctx, cl.ID, ai.FolderManifests, "x.yaml", []byte("a: 1")); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteManifest(ctx, cl.ID, ai.FolderManifests, "x.yaml"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteManifest(ctx, cl.ID, ai.FolderManifests, "x.yaml"); !errors.Is(err, ai.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	ms, err := c.ListManifests(ctx, cl.ID)
	if err != nil || len(ms) != 1 || ms[0].FileName != "99-network-configmap.yaml" {
		t.Fatalf("manifests %v %v", ms, err)
	}
	if b, ok := h.sim.Manifest(cl.ID, "manifests", "99-network-configmap.yaml"); !ok || string(b) != string(cm) {
		t.Errorf("stored manifest %q", b)
	}
	if _, err := c.Kubeconfig(ctx, cl.ID); !errors.Is(err, ai.ErrConflict) {
		t.Errorf("kubeconfig before install: %v", err)
	}

	if _, err := c.ClusterLogs(ctx, cl.ID, "all", ""); !errors.Is(err, ai.ErrNotFound) {
		t.Errorf("logs before install: %v, want 404", err)
	}
	// Install; worker-1 powers off instead of rebooting.
	h.sim.PowerOffOnReboot(nodes[4].mac)
	if got, err = c.InstallCluster(ctx, cl.ID); err != nil || got.Status != ai.ClusterPreparingForInstallation {
		t.Fatalf("install: %v %v", got, err)
	}
	if _, err := c.UpdateHost(ctx, ie.ID, dpdk.ID, ai.HostUpdateParams{HostName: ptr("late")}); !errors.Is(err, ai.ErrConflict) {
		t.Errorf("host update during install: %v", err)
	}
	seen := map[string][]string{}
	clusterSeen := []string{}
	lastPct := -1
	for i := 0; i < 200; i++ {
		got, err = c.GetCluster(ctx, cl.ID, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(clusterSeen) == 0 || clusterSeen[len(clusterSeen)-1] != got.Status {
			clusterSeen = append(clusterSeen, got.Status)
		}
		if got.Progress.TotalPercentage < lastPct {
			t.Errorf("progress went back: %d after %d", got.Progress.TotalPercentage, lastPct)
		}
		lastPct = got.Progress.TotalPercentage
		if got.Status == ai.ClusterInstalled {
			break
		}
		hs, _ := c.ClusterHosts(ctx, cl.ID, "")
		for _, hh := range hs {
			if hh.Progress != nil && hh.Progress.CurrentStage != "" {
				st := seen[hh.Name()]
				if len(st) == 0 || st[len(st)-1] != hh.Progress.CurrentStage {
					seen[hh.Name()] = append(st, hh.Progress.CurrentStage)
				}
			}
		}
		if h.sim.PoweredOff(nodes[4].mac) {
			if w1 := ai.HostByMAC(hs, nodes[4].mac); w1.Progress.CurrentStage != ai.StageRebooting {
				t.Errorf("powered-off host at %q", w1.Progress.CurrentStage)
			}
			h.sim.NodePoweredOn(nodes[4].mac)
		}
		h.clock.Advance(aisim.DefaultTimings.Stage / 2)
	}
	want := []string{ai.ClusterReady, ai.ClusterPreparingForInstallation, ai.ClusterInstalling, ai.ClusterFinalizing, ai.ClusterInstalled}
	if strings.Join(clusterSeen, ",") != strings.Join(want[1:], ",") {
		t.Errorf("cluster statuses %v, want %v", clusterSeen, want[1:])
	}
	if got.Progress.TotalPercentage != 100 || got.InstallCompletedAt == nil {
		t.Errorf("installed progress %+v", got.Progress)
	}
	wantStages := "Starting installation,Installing,Writing image to disk,Rebooting,Configuring,Joined,Done"
	for _, n := range nodes {
		if s := strings.Join(seen[n.name], ","); s != wantStages {
			t.Errorf("%s stages %s", n.name, s)
		}
	}
	checkClusterLogs(t, c, cl.ID, len(nodes))
	kc, err := c.Kubeconfig(ctx, cl.ID)
	if err != nil || !strings.Contains(string(kc), "api.mycluster.contrail.lan") {
		t.Errorf("kubeconfig %q %v", kc, err)
	}
	if pw, err := c.KubeadminPassword(ctx, cl.ID); err != nil || len(pw) == 0 {
		t.Errorf("password %v", err)
	}
	if cr, err := c.Credentials(ctx, cl.ID); err != nil || cr.Username != "kubeadmin" {
		t.Errorf("credentials %v %v", cr, err)
	}
	evs, err := c.Events(ctx, ai.EventsQuery{ClusterID: cl.ID, Severities: []string{"info", "warning"}})
	if err != nil || len(evs) == 0 {
		t.Errorf("events %d %v", len(evs), err)
	}
	if err := c.DeleteCluster(ctx, cl.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteInfraEnv(ctx, ie.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetCluster(ctx, cl.ID, false); !errors.Is(err, ai.ErrNotFound) {
		t.Errorf("deleted cluster: %v", err)
	}
	if cls, ies, hs := h.sim.Counts(); cls+ies+hs != 0 {
		t.Errorf("left over: %d %d %d", cls, ies, hs)
	}
}

func hasFailing(v ai.Validations, id string) bool {
	for _, f := range v.Failing() {
		if f.ID == id {
			return true
		}
	}
	return false
}

// TestCancelReset: cancel a running install, reset, reboot the node, ready again.
func TestCancelReset(t *testing.T) {
	h := newHarness(t, aisim.Options{ControlPlaneCount: 1}, ai.Config{})
	ctx, c := h.ctx, h.c
	cl, err := c.RegisterCluster(ctx, ai.ClusterCreateParams{Name: "sno", OpenshiftVersion: "4.14", BaseDNSDomain: "lab",
		MachineNetworks: []ai.Network{{CIDR: "172.16.0.0/24"}}, ControlPlaneCount: ptr(1),
		APIVIPs: []ai.VIP{{IP: "172.16.0.100"}}, IngressVIPs: []ai.VIP{{IP: "172.16.0.101"}}, PullSecret: testPullSecret})
	if err != nil {
		t.Fatal(err)
	}
	h.registerInfraEnv(cl.ID)
	_ = h.sim.NodeBooted(aisim.Node{MACs: []string{"52:54:00:00:00:21"}, Hostname: "sno-0"})
	h.clock.Advance(time.Hour)
	if _, err := c.CancelInstallation(ctx, cl.ID); !errors.Is(err, ai.ErrConflict) {
		t.Errorf("cancel before install: %v", err)
	}
	if _, err := c.InstallCluster(ctx, cl.ID); err != nil {
		t.Fatal(err)
	}
	got, err := c.CancelInstallation(ctx, cl.ID)
	if err != nil || got.Status != ai.ClusterCancelled {
		t.Fatalf("cancel: %v %v", got, err)
	}
	if got, err = c.ResetCluster(ctx, cl.ID); err != nil || got.Status != ai.ClusterInsufficient {
		t.Fatalf("reset: %v %v", got, err)
	}
	_ = h.sim.NodeBooted(aisim.Node{MACs: []string{"52:54:00:00:00:21"}, Hostname: "sno-0"})
	h.clock.Advance(time.Hour)
	if got, _ = c.GetCluster(ctx, cl.ID, false); got.Status != ai.ClusterReady {
		t.Errorf("after reboot into discovery: %s", got.Status)
	}
	if _, err := c.GetInfraEnv(ctx, "3fa85f64-5717-4562-b3fc-2c963f66afa6"); !errors.Is(err, ai.ErrNotFound) {
		t.Errorf("unknown infra-env: %v", err)
	}
}
