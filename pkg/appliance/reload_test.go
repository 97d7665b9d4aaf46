package appliance

import (
	"log/slog"
	"net/netip"
	"testing"

	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/flow"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
)

func TestInstallChanges(t *testing.T) {
	base := exampleLab(t)
	for _, tt := range []struct {
		name   string
		change func(*config.Lab)
		want   string
	}{
		{"nothing", func(*config.Lab) {}, ""},
		{"DNS TTL applies at once", func(l *config.Lab) { l.DNS.TTL = 60 }, ""},
		{"a new pool applies at once", func(l *config.Lab) { l.Networks[1].Pool = config.Range{} }, ""},
		{"API VIP", func(l *config.Lab) { l.Cluster.APIVIP = netip.MustParseAddr("172.16.0.102") }, "cluster"},
		{"installer URL", func(l *config.Lab) { l.AssistedInstaller.URL = "https://ai.lab.example" }, "assistedInstaller"},
		{"a DPDK worker", func(l *config.Lab) { l.Nodes[3].DPDK = true }, "nodes"},
		{"a proxy", func(l *config.Lab) { l.Proxy.HTTPSProxy = "http://proxy.corp.example:3128" }, "proxy"},
		{"the proxy password", func(l *config.Lab) {
			l.Proxy.HTTPSProxy = base.Proxy.HTTPSProxy
			l.Proxy.Password = config.NewSecret([]byte("another"))
		}, "proxy"},
		{"a node's role and the cluster", func(l *config.Lab) {
			l.Nodes[4].Role = config.RoleControlPlane
			l.Cluster.OpenshiftVersion = "4.16"
		}, "cluster, nodes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			next := *base
			next.Networks = append([]config.Network(nil), base.Networks...)
			next.Nodes = append([]config.Node(nil), base.Nodes...)
			tt.change(&next)
			if got := installChanges(base, &next); got != tt.want {
				t.Errorf("installChanges = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestReloadMarksNeedsReprovision: a reload that changes what the installer was given is
// applied to the services but flagged, and the status page says so.
func TestReloadMarksNeedsReprovision(t *testing.T) {
	lab := exampleLab(t)
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// The cluster is registered: a change to what the installer was given needs reprovisioning.
	if err := st.PutDoc("flow", "state", flow.State{ClusterID: "registered-cluster"}); err != nil {
		t.Fatal(err)
	}
	a, err := New(lab, st, nil, slog.New(slog.DiscardHandler), Options{Power: map[string]flow.Power{}})
	if err != nil {
		t.Fatal(err)
	}
	ttl := *lab
	ttl.DNS.TTL = 60
	if err := a.Reload(&ttl); err != nil {
		t.Fatal(err)
	}
	if a.Snapshot().Lab.NeedsReprovision {
		t.Error("a DNS change marked the lab as needing reprovision")
	}
	vip := ttl
	vip.Cluster.APIVIP = netip.MustParseAddr("172.16.0.102")
	if err := a.Reload(&vip); err != nil {
		t.Fatal(err)
	}
	s := a.Snapshot()
	if !s.Lab.NeedsReprovision || s.Lab.ReprovisionWhy != "cluster" || s.Lab.APIVIP != "172.16.0.102" {
		t.Errorf("after a VIP change: %+v", s.Lab)
	}
}
