package aisim_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/aisim"
	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
	"github.com/cn2-appliance/cn2-appliance/pkg/nodejoin"
)

// TestDay2AddWorker walks the spec's day-2 path on an installed single-node cluster, every
// answer checked against the spec: a host booting the original image is refused, allow-add-hosts
// keeps the cluster (same id, kind AddHostsCluster, adding-hosts), a host of a day-2 infra env
// registers as an AddToExistingClusterHost worker, install host refuses a day-1 host and
// installs the known day-2 one up to Rebooting, after which it is added-to-existing-cluster;
// its node then joins through the simulated cluster API once its client and serving CSRs are
// approved.
func TestDay2AddWorker(t *testing.T) {
	n := newSingleNode(t, nil)
	for range 10 {
		if n.clusterStatus() == ai.ClusterInstalled {
			break
		}
		n.clock.Advance(time.Hour)
	}
	ctx := context.Background()
	if got := n.clusterStatus(); got != ai.ClusterInstalled {
		t.Fatalf("cluster %s, want installed", got)
	}
	day1 := n.host()

	// A new node booting the original discovery image: the service refuses it.
	const newMAC = "52:54:00:00:00:41"
	if err := n.sim.NodeBooted(aisim.Node{MACs: []string{newMAC}, Hostname: "worker-9"}); err != nil {
		t.Fatal(err)
	}
	n.clock.Advance(time.Hour)
	if n.sim.HostRegistered(newMAC) {
		t.Fatal("a host registered with an installed day-1 cluster")
	}
	if _, err := n.c.InstallHost(ctx, n.infra, day1.ID); !errors.Is(err, ai.ErrConflict) {
		t.Errorf("install host of a day-1 host: %v, want a conflict", err)
	}

	cl, err := n.c.AllowAddHosts(ctx, n.cluster)
	if err != nil {
		t.Fatal(err)
	}
	if cl.ID != n.cluster || cl.Kind != ai.KindAddHostsCluster || cl.Status != ai.ClusterAddingHosts {
		t.Fatalf("after allow-add-hosts: id %s kind %s status %s", cl.ID, cl.Kind, cl.Status)
	}
	if _, err := n.c.AllowAddHosts(ctx, n.cluster); !errors.Is(err, ai.ErrConflict) {
		t.Errorf("allow-add-hosts twice: %v, want a conflict", err)
	}
	ie, err := n.c.RegisterInfraEnv(ctx, ai.InfraEnvCreateParams{Name: "sno_day2", ClusterID: n.cluster,
		OpenshiftVersion: "4.14", CPUArchitecture: "x86_64", ImageType: "full-iso", PullSecret: pullSecret})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.sim.NodeBooted(aisim.Node{MACs: []string{newMAC}, Hostname: "worker-9"}); err != nil {
		t.Fatal(err)
	}
	n.clock.Advance(time.Hour)
	hosts, err := n.c.InfraEnvHosts(ctx, ie.ID)
	if err != nil || len(hosts) != 1 {
		t.Fatalf("day-2 infra env hosts %+v %v", hosts, err)
	}
	h := hosts[0]
	if !h.IsDay2() || h.Role != ai.RoleWorker || h.Status != ai.HostKnown || h.ClusterID == nil || *h.ClusterID != n.cluster {
		t.Fatalf("day-2 host: kind %s role %s status %s cluster %v", h.Kind, h.Role, h.Status, h.ClusterID)
	}

	api := n.sim.ClusterAPI()
	if ready, exists, _ := api.NodeReady(ctx, "sno-0"); !ready || !exists {
		t.Error("the day-1 node is not a Ready node")
	}
	if got, err := n.c.InstallHost(ctx, ie.ID, h.ID); err != nil || got.Status != "installing" {
		t.Fatalf("install host: %+v %v", got, err)
	}
	if _, err := n.c.InstallHost(ctx, ie.ID, h.ID); !errors.Is(err, ai.ErrConflict) {
		t.Errorf("install host twice: %v, want a conflict", err)
	}
	var last ai.Host
	for range 100 {
		n.clock.Advance(30 * time.Second)
		g, err := n.c.GetHost(ctx, ie.ID, h.ID)
		if err != nil {
			t.Fatal(err)
		}
		if last = *g; last.Status == ai.HostAddedToExistingCluster {
			break
		}
		if p := last.Progress; p != nil && (p.CurrentStage == ai.StageConfiguring || p.CurrentStage == ai.StageJoined) {
			t.Fatalf("a day-2 host passed Rebooting: %s", p.CurrentStage)
		}
	}
	if last.Status != ai.HostAddedToExistingCluster || last.Progress == nil || last.Progress.CurrentStage != ai.StageDone {
		t.Fatalf("day-2 host ended %s at %+v", last.Status, last.Progress)
	}
	if got := n.clusterStatus(); got != ai.ClusterAddingHosts {
		t.Errorf("cluster %s after the day-2 install, want adding-hosts", got)
	}

	// The node joins once its two CSRs are approved.
	for i, kind := range []string{nodejoin.KindClient, nodejoin.KindServing} {
		csrs, err := api.PendingNodeCSRs(ctx)
		if err != nil || len(csrs) != 1 || csrs[0].Node != "worker-9" || csrs[0].Kind != kind {
			t.Fatalf("pending CSRs %d: %+v %v, want one %s CSR of worker-9", i, csrs, err, kind)
		}
		if ready, _, _ := api.NodeReady(ctx, "worker-9"); ready {
			t.Fatalf("worker-9 Ready before its %s CSR was approved", kind)
		}
		if err := api.ApproveCSR(ctx, csrs[0].Name, "test"); err != nil {
			t.Fatal(err)
		}
	}
	if ready, exists, _ := api.NodeReady(ctx, "worker-9"); !ready || !exists {
		t.Error("worker-9 is not Ready after both CSRs were approved")
	}
	if csrs, _ := api.PendingNodeCSRs(ctx); len(csrs) != 0 {
		t.Errorf("CSRs still pending: %+v", csrs)
	}
	if c, i, hs := n.sim.Counts(); c != 1 || i != 2 || hs != 2 {
		t.Errorf("%d clusters, %d infra envs, %d hosts; want 1, 2, 2", c, i, hs)
	}
}
