package aisim_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/aisim"
	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
)

const pullSecret = `{"auths":{"cloud.openshift.com":{"auth":"dXNlcjpzZWNyZXQtcHVsbC1zZWNyZXQ=","email":"x@example.com"}}}`

const wrongBootOrder = "Expected the host to boot from disk, but it booted the installation image - please reboot and fix boot order to boot from disk"

// singleNode is a simulator on a fake clock with one registered, ready single-node cluster
// whose node has booted, and a client of it.
type singleNode struct {
	t       *testing.T
	clock   *aisim.FakeClock
	sim     *aisim.Sim
	c       *ai.Client
	cluster string
	infra   string

	mu       sync.Mutex
	pending  []string // OnPendingUserAction calls
	statuses []string // OnClusterStatus calls
}

const mac = "52:54:00:00:00:31"

func newSingleNode(t *testing.T, before func(*aisim.Sim)) *singleNode {
	t.Helper()
	n := &singleNode{t: t, clock: aisim.NewFakeClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))}
	sim, err := aisim.New(aisim.Options{Clock: n.clock, ControlPlaneCount: 1,
		OnPendingUserAction: func(m string) { n.mu.Lock(); n.pending = append(n.pending, m); n.mu.Unlock() },
		OnClusterStatus: func(_, s string) {
			n.mu.Lock()
			n.statuses = append(n.statuses, s)
			n.mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	n.sim = sim
	srv := httptest.NewServer(sim)
	t.Cleanup(func() {
		srv.Close()
		for _, v := range sim.Violations() {
			t.Errorf("simulator answer violates the spec: %v", v)
		}
	})
	if n.c, err = ai.New(ai.Config{URL: srv.URL, MaxAttempts: 1}); err != nil {
		t.Fatal(err)
	}
	one := 1
	cl, err := n.c.RegisterCluster(context.Background(), ai.ClusterCreateParams{Name: "sno", OpenshiftVersion: "4.14",
		BaseDNSDomain: "lab", MachineNetworks: []ai.Network{{CIDR: "172.16.0.0/24"}}, ControlPlaneCount: &one,
		APIVIPs: []ai.VIP{{IP: "172.16.0.100"}}, IngressVIPs: []ai.VIP{{IP: "172.16.0.101"}}, PullSecret: pullSecret})
	if err != nil {
		t.Fatal(err)
	}
	ie, err := n.c.RegisterInfraEnv(context.Background(), ai.InfraEnvCreateParams{Name: "ie", ClusterID: cl.ID,
		OpenshiftVersion: "4.14", CPUArchitecture: "x86_64", ImageType: "full-iso", PullSecret: pullSecret})
	if err != nil {
		t.Fatal(err)
	}
	n.cluster, n.infra = cl.ID, ie.ID
	if before != nil {
		before(sim)
	}
	n.boot()
	n.clock.Advance(time.Hour)
	if got := n.clusterStatus(); got != ai.ClusterReady {
		t.Fatalf("cluster %s before install, want ready", got)
	}
	if _, err := n.c.InstallCluster(context.Background(), cl.ID); err != nil {
		t.Fatal(err)
	}
	return n
}

func (n *singleNode) boot() {
	n.t.Helper()
	if err := n.sim.NodeBooted(aisim.Node{MACs: []string{mac}, Hostname: "sno-0"}); err != nil {
		n.t.Fatal(err)
	}
}

func (n *singleNode) host() ai.Host {
	n.t.Helper()
	hosts, err := n.c.InfraEnvHosts(context.Background(), n.infra)
	if err != nil || len(hosts) != 1 {
		n.t.Fatalf("hosts %v %v", hosts, err)
	}
	return hosts[0]
}

func (n *singleNode) clusterStatus() string {
	n.t.Helper()
	c, err := n.c.GetCluster(context.Background(), n.cluster, true)
	if err != nil {
		n.t.Fatal(err)
	}
	return c.Status
}

// advanceTo moves the clock in small steps until the host reaches status (or gives up).
func (n *singleNode) advanceTo(status string) ai.Host {
	n.t.Helper()
	for range 400 {
		if h := n.host(); h.Status == status {
			return h
		}
		n.clock.Advance(10 * time.Second)
	}
	h := n.host()
	n.t.Fatalf("host stayed %s (%s), never %s", h.Status, h.Progress.CurrentStage, status)
	return h
}

// advanceToStage moves the clock in steps of 5s until the host reaches stage.
func (n *singleNode) advanceToStage(stage string) {
	n.t.Helper()
	for range 400 {
		if h := n.host(); h.Progress != nil && h.Progress.CurrentStage == stage {
			return
		}
		n.clock.Advance(5 * time.Second)
	}
	n.t.Fatalf("the host never reached %s", stage)
}

// TestBootDiscoveryAfterWrite: a node that boots the discovery image at its reboot after
// writing its disk leaves its host pending user action, with the service's status info, for as
// long as it does not boot from disk, even when it boots the discovery image again; a disk boot
// lets the install go on from the stage after Rebooting, to installed.
func TestBootDiscoveryAfterWrite(t *testing.T) {
	n := newSingleNode(t, func(s *aisim.Sim) { s.BootDiscoveryAfterWrite(strings.ToUpper(mac)) })
	h := n.advanceTo("installing-pending-user-action")
	if h.Progress == nil || h.Progress.CurrentStage != ai.StageRebooting || !strings.HasPrefix(h.StatusInfo, wrongBootOrder) {
		t.Errorf("pending host: stage %v, status info %q", h.Progress, h.StatusInfo)
	}
	if got := n.clusterStatus(); got != ai.ClusterInstallingPendingAction {
		t.Errorf("cluster %s while its host is pending user action", got)
	}

	// It stays there: with time, and when the node boots the discovery image again.
	n.clock.Advance(time.Hour)
	n.boot()
	n.clock.Advance(aisim.DefaultTimings.Discovery)
	if h := n.host(); h.Status != "installing-pending-user-action" || h.Progress.CurrentStage != ai.StageRebooting {
		t.Fatalf("after an hour and another discovery boot: %s at %s", h.Status, h.Progress.CurrentStage)
	}

	n.sim.NodePoweredOn(mac) // booted from disk at last
	if h := n.host(); h.Status != "installing-in-progress" || h.Progress.CurrentStage != ai.StageConfiguring {
		t.Errorf("after the disk boot: %s at %s, want installing-in-progress at %s", h.Status, h.Progress.CurrentStage, ai.StageConfiguring)
	}
	n.advanceTo("installed")
	for range 100 {
		if n.clusterStatus() == ai.ClusterInstalled {
			break
		}
		n.clock.Advance(time.Minute)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.pending) != 1 || n.pending[0] != mac {
		t.Errorf("OnPendingUserAction calls %v, want one for %s", n.pending, mac)
	}
	want := []string{ai.ClusterPreparingForInstallation, ai.ClusterInstalling, ai.ClusterInstallingPendingAction,
		ai.ClusterInstalling, ai.ClusterFinalizing, ai.ClusterInstalled}
	if i := slices.Index(n.statuses, ai.ClusterPreparingForInstallation); i < 0 || !slices.Equal(n.statuses[i:], want) {
		t.Errorf("cluster statuses %v, want them to end %v", n.statuses, want)
	}
}

// TestDiscoveryBootDuringReboot: without the fault, a node that comes up in the discovery
// image while its host is in Rebooting gets the same answer (the service's wrong boot order
// detection).
func TestDiscoveryBootDuringReboot(t *testing.T) {
	n := newSingleNode(t, nil)
	n.advanceToStage(ai.StageRebooting)
	n.boot()
	n.clock.Advance(aisim.DefaultTimings.Discovery)
	if h := n.host(); h.Status != "installing-pending-user-action" || !strings.HasPrefix(h.StatusInfo, wrongBootOrder) {
		t.Fatalf("discovery boot while rebooting: %s (%s)", h.Status, h.StatusInfo)
	}
}

// TestDiskBootBeforeDiscoveryComesUp: a node booted from disk early in its Rebooting stage,
// before the wrong image came up, installs without waiting for the user.
func TestDiskBootBeforeDiscoveryComesUp(t *testing.T) {
	n := newSingleNode(t, func(s *aisim.Sim) { s.BootDiscoveryAfterWrite(mac) })
	n.advanceToStage(ai.StageRebooting)
	n.sim.NodePoweredOn(mac)
	for range 400 {
		h := n.host()
		if h.Status == "installing-pending-user-action" {
			t.Fatalf("pending user action after an early disk boot")
		}
		if h.Status == "installed" {
			return
		}
		n.clock.Advance(10 * time.Second)
	}
	t.Fatalf("never installed")
}
