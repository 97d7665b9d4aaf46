package flow_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/cn2-appliance/cn2-appliance/internal/aisim"
	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
)

func withLabProxy(t *testing.T, lab *config.Lab) {
	t.Helper()
	bundle, err := os.ReadFile("../config/testdata/proxy/bundle.pem")
	if err != nil {
		t.Fatal(err)
	}
	lab.Proxy = config.Proxy{HTTPProxy: "http://svc@proxy.corp.example:3128", HTTPSProxy: "http://svc@proxy.corp.example:3128",
		NoProxy: []string{".corp.example"}, Password: config.NewSecret([]byte("FAKE-FLOW-PROXY-PASSWORD")),
		TrustBundle: strings.TrimSpace(string(bundle)), TrustBundleSubjects: []string{"a", "b"}}
}

// TestProxyFoundClusterIsUpdated: a cluster and infra env registered earlier without a proxy
// (a lab that gained one) get the lab's proxy, trust bundle and no-proxy list before the
// boot artifacts are fetched, and the install completes; the password is in no event.
func TestProxyFoundClusterIsUpdated(t *testing.T) {
	lab := exampleLab(t)
	withLabProxy(t, lab)
	sim, url := newSim(t, aisim.Options{})
	client, err := ai.New(ai.Config{URL: url, OfflineToken: string(lab.AssistedInstaller.OfflineToken.Reveal()), TokenURL: url + aisim.TokenPath})
	if err != nil {
		t.Fatal(err)
	}
	pull, _ := ai.PullSecret(lab.Cluster.PullSecret.Reveal())
	ctx := context.Background()
	lc := lab.Cluster
	no := false
	c, err := client.RegisterCluster(ctx, ai.ClusterCreateParams{Name: lc.Name, OpenshiftVersion: lc.OpenshiftVersion,
		BaseDNSDomain: lc.BaseDomain, PullSecret: pull, SSHPublicKey: lc.SSHPublicKey,
		ClusterNetworks: []ai.ClusterNetwork{{CIDR: lc.ClusterNetwork.String(), HostPrefix: lc.HostPrefix}},
		ServiceNetworks: []ai.Network{{CIDR: lc.ServiceNetwork.String()}}, MachineNetworks: []ai.Network{{CIDR: lc.MachineNetwork.String()}},
		APIVIPs: []ai.VIP{{IP: lc.APIVIP.String()}}, IngressVIPs: []ai.VIP{{IP: lc.IngressVIP.String()}},
		Platform: &ai.Platform{Type: "baremetal"}, UserManagedNetworking: &no, VIPDHCPAllocation: &no})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.RegisterInfraEnv(ctx, ai.InfraEnvCreateParams{Name: "old", ClusterID: c.ID, PullSecret: pull}); err != nil {
		t.Fatal(err)
	}
	f, st := newFlow(t, lab, url, t.TempDir(), t.TempDir(), &fakeBoot{})
	defer st.Close()
	runToEnd(t, f)
	assertInstalledOnce(t, sim, f)
	got, err := client.GetCluster(ctx, c.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	wantURL := "http://svc:FAKE-FLOW-PROXY-PASSWORD@proxy.corp.example:3128"
	if got.HTTPProxy != wantURL || got.HTTPSProxy != wantURL || got.NoProxy != lab.NoProxyString() || !strings.HasPrefix(got.NoProxy, ".corp.example,172.16.0.0/24,") {
		t.Errorf("cluster proxy %q %q %q, want %q and %q", config.RedactProxyURL(got.HTTPProxy), config.RedactProxyURL(got.HTTPSProxy), got.NoProxy, config.RedactProxyURL(wantURL), lab.NoProxyString())
	}
	ie, err := client.GetInfraEnv(ctx, f.State().InfraEnvID)
	if err != nil {
		t.Fatal(err)
	}
	if ie.Proxy == nil || *ie.Proxy.HTTPProxy != wantURL || *ie.Proxy.NoProxy != lab.NoProxyString() || ie.AdditionalTrustBundle != lab.Proxy.TrustBundle {
		t.Errorf("infra env proxy %+v, bundle of %d bytes", ie.Proxy, len(ie.AdditionalTrustBundle))
	}
	events, err := st.Events(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	updated := 0
	for _, e := range events {
		if strings.Contains(e.Message, "FAKE-FLOW-PROXY-PASSWORD") {
			t.Errorf("event with the proxy password: %s", e.Message)
		}
		if strings.Contains(e.Message, "proxy set to the lab's") || strings.Contains(e.Message, "proxy and trust bundle set to the lab's") {
			updated++
		}
	}
	if updated != 2 {
		t.Errorf("%d proxy update events, want 2 (cluster, infra env)", updated)
	}
}
