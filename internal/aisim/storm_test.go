package aisim_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/aisim"
	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
)

// TestRequestsDoNotReevaluateEveryHost: in a cluster of 300 registered hosts, requests that
// change nothing render no host's validations again, and renaming one host renders that host
// alone, so a poll's requests cost what changed, not requests × hosts.
func TestRequestsDoNotReevaluateEveryHost(t *testing.T) {
	const hosts = 300
	ctx := context.Background()
	clock := aisim.NewFakeClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	sim, err := aisim.New(aisim.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	defer srv.Close()
	c, err := ai.New(ai.Config{URL: srv.URL, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := c.RegisterCluster(ctx, ai.ClusterCreateParams{Name: "storm", OpenshiftVersion: "4.14",
		BaseDNSDomain: "lab", MachineNetworks: []ai.Network{{CIDR: "172.16.0.0/16"}},
		APIVIPs: []ai.VIP{{IP: "172.16.0.100"}}, IngressVIPs: []ai.VIP{{IP: "172.16.0.101"}}, PullSecret: pullSecret})
	if err != nil {
		t.Fatal(err)
	}
	ie, err := c.RegisterInfraEnv(ctx, ai.InfraEnvCreateParams{Name: "ie", ClusterID: cl.ID,
		OpenshiftVersion: "4.14", CPUArchitecture: "x86_64", ImageType: "full-iso", PullSecret: pullSecret})
	if err != nil {
		t.Fatal(err)
	}
	for i := range hosts {
		mac := fmt.Sprintf("52:54:00:10:%02x:%02x", i>>8, i&0xff)
		if err := sim.NodeBooted(aisim.Node{MACs: []string{mac}, Hostname: fmt.Sprintf("node-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(time.Hour)
	list := func() []ai.Host {
		t.Helper()
		hs, err := c.InfraEnvHosts(ctx, ie.ID)
		if err != nil || len(hs) != hosts {
			t.Fatalf("%d hosts, %v; want %d", len(hs), err, hosts)
		}
		return hs
	}
	hs := list()
	before := sim.Stats().HostEvaluations
	for range 20 {
		list()
		sim.HostRegistered("52:54:00:10:00:01")
	}
	if got := sim.Stats().HostEvaluations - before; got != 0 {
		t.Errorf("40 requests that changed nothing rendered %d hosts' validations; want 0", got)
	}
	before = sim.Stats().HostEvaluations
	name := "renamed-0"
	if _, err := c.UpdateHost(ctx, ie.ID, hs[0].ID, ai.HostUpdateParams{HostName: &name}); err != nil {
		t.Fatal(err)
	}
	list()
	if got := sim.Stats().HostEvaluations - before; got != 1 {
		t.Errorf("renaming one host rendered %d hosts' validations; want 1", got)
	}
	if v := sim.Violations(); len(v) != 0 {
		t.Errorf("violations: %v", v)
	}
}
