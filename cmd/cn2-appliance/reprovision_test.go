package main

import (
	"context"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/cn2-appliance/cn2-appliance/internal/aisim"
	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
	"github.com/cn2-appliance/cn2-appliance/pkg/bmc/bmctest"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
)

// TestReprovisionCommand: `cn2-appliance reprovision` against the installer simulator and the
// BMC peers deletes the lab's cluster, infra env and hosts, powers every node off, and refuses
// to run while the state folder is in use.
func TestReprovisionCommand(t *testing.T) {
	rf := bmctest.NewRedfish(t, bmctest.RedfishOptions{Username: readSecretFile(t, "bmc-username"), Password: readSecretFile(t, "bmc-password")})
	ipmi := bmctest.StartIPMISim(t)
	lv := bmctest.StartLibvirtd(t)
	sim, err := aisim.New(aisim.Options{TimeScale: 0.001, Auth: &aisim.Auth{OfflineTokens: []string{readSecretFile(t, "offline-token")}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	defer srv.Close()
	defer sim.Close()

	// Every BMC of the lab points at a peer; the installer at the simulator.
	path := peerLab(t, rf, ipmi, lv)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.NewReplacer(
		"address: https://10.0.0.12\n", "address: "+rf.URL+"\n",
		"uri: qemu:///system\n      domain: worker-1\n", "uri: "+lv.URI+"\n      domain: test\n",
		"url: https://api.openshift.com\n", "url: "+srv.URL+"\n  tokenURL: "+srv.URL+aisim.TokenPath+"\n",
	).Replace(string(b))
	if strings.Contains(s, "10.0.0.") || strings.Contains(s, "qemu:///system") {
		t.Fatalf("the test lab still names an unreachable BMC:\n%s", s)
	}
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	lab, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}

	// An install in progress at the installer: cluster, infra env, a booted node.
	client, err := ai.New(ai.Config{URL: srv.URL, OfflineToken: readSecretFile(t, "offline-token"), TokenURL: srv.URL + aisim.TokenPath})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pull, _ := ai.PullSecret(lab.Cluster.PullSecret.Reveal())
	c, err := client.RegisterCluster(ctx, ai.ClusterCreateParams{Name: "mycluster", BaseDNSDomain: "contrail.lan", OpenshiftVersion: "4.14", PullSecret: pull})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.RegisterInfraEnv(ctx, ai.InfraEnvCreateParams{Name: "mycluster_infra-env", ClusterID: c.ID, PullSecret: pull}); err != nil {
		t.Fatal(err)
	}
	if err := sim.NodeBooted(aisim.Node{MACs: []string{"52:54:00:00:00:11"}, Hostname: "master-0"}); err != nil {
		t.Fatal(err)
	}
	rf.SetPowerState("On")

	state := t.TempDir()
	// While the appliance holds the state folder, reprovision refuses and says why.
	held, err := store.Open(state)
	if err != nil {
		t.Fatal(err)
	}
	_, errOut, code := run(t, "reprovision", "-c", path, "--state-dir", state)
	held.Close()
	if code == 0 || !strings.Contains(errOut, "stop it first") {
		t.Fatalf("reprovision with the state folder in use: code %d\n%s", code, errOut)
	}

	out, errOut, code := run(t, "reprovision", "-c", path, "--state-dir", state)
	if code != 0 || !strings.Contains(out, "mycluster.contrail.lan reprovisioned") {
		t.Fatalf("reprovision: code %d\n%s%s", code, out, errOut)
	}
	if cl, ie, h := sim.Counts(); cl != 0 || ie != 0 || h != 0 {
		t.Errorf("after reprovision the installer holds %d clusters, %d infra envs, %d hosts", cl, ie, h)
	}
	if got := rf.PowerState(); got != "Off" {
		t.Errorf("redfish node power %s, want Off", got)
	}
	if got := ipmi.Power(); got != "0" {
		t.Errorf("ipmi node power %q, want 0", got)
	}
	if strings.Contains(out+errOut, readSecretFile(t, "offline-token")) {
		t.Error("reprovision printed the offline token")
	}
}
