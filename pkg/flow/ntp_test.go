package flow_test

import (
	"context"
	"testing"

	"github.com/cn2-appliance/cn2-appliance/internal/aisim"
	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
)

// TestInfraEnvNTPSources: the infra env names the appliance's machine-network address as its
// additional NTP source, so the discovery agent syncs to the lab's NTP server: when the flow
// registers it, and when it finds one with other sources (registered before the lab served
// NTP), which it updates rather than replaces.
func TestInfraEnvNTPSources(t *testing.T) {
	for _, preexisting := range []bool{false, true} {
		name := map[bool]string{false: "registered", true: "found with other sources"}[preexisting]
		t.Run(name, func(t *testing.T) {
			lab := exampleLab(t)
			sim, url := newSim(t, aisim.Options{})
			client, err := ai.New(ai.Config{URL: url, OfflineToken: string(lab.AssistedInstaller.OfflineToken.Reveal()), TokenURL: url + aisim.TokenPath})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			var found string
			if preexisting {
				pull, err := ai.PullSecret(lab.Cluster.PullSecret.Reveal())
				if err != nil {
					t.Fatal(err)
				}
				c, cp := lab.Cluster, 3
				cl, err := client.RegisterCluster(ctx, ai.ClusterCreateParams{Name: c.Name, OpenshiftVersion: c.OpenshiftVersion, BaseDNSDomain: c.BaseDomain,
					ClusterNetworks: []ai.ClusterNetwork{{CIDR: c.ClusterNetwork.String(), HostPrefix: c.HostPrefix}},
					ServiceNetworks: []ai.Network{{CIDR: c.ServiceNetwork.String()}}, MachineNetworks: []ai.Network{{CIDR: c.MachineNetwork.String()}},
					Platform: &ai.Platform{Type: "baremetal"}, UserManagedNetworking: new(bool), VIPDHCPAllocation: new(bool),
					ControlPlaneCount: &cp, SSHPublicKey: c.SSHPublicKey, PullSecret: pull})
				if err != nil {
					t.Fatal(err)
				}
				old := "192.0.2.123"
				ie, err := client.RegisterInfraEnv(ctx, ai.InfraEnvCreateParams{Name: c.Name + "_infra-env", ClusterID: cl.ID,
					OpenshiftVersion: c.OpenshiftVersion, PullSecret: pull, AdditionalNTPSources: &old})
				if err != nil {
					t.Fatal(err)
				}
				found = ie.ID
			}

			f, st := newFlow(t, lab, url, t.TempDir(), t.TempDir(), &fakeBoot{})
			defer st.Close()
			runToEnd(t, f)
			assertInstalledOnce(t, sim, f)
			id := f.State().InfraEnvID
			if preexisting && id != found {
				t.Fatalf("the flow used infra env %s, not the one it found (%s)", id, found)
			}
			got, err := client.GetInfraEnv(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if got.AdditionalNTPSources != "172.16.0.1" {
				t.Errorf("infra env NTP sources %q, want 172.16.0.1 (the appliance on the machine network)", got.AdditionalNTPSources)
			}
		})
	}
}
