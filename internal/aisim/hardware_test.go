package aisim_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/aisim"
	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
)

// Disks of a machine that held an earlier install: a small virtio disk, a big SSD with
// leftover partitions (bootable, so the service prefers it), a disk too small for any role,
// and the virtual CD with the discovery ISO.
var (
	diskSmall = ai.Disk{Name: "sda", ByPath: "/dev/disk/by-path/pci-0000:00:05.0-scsi-0:0:0:0", ByID: "/dev/disk/by-id/wwn-0x5000c500a1b2c301",
		DriveType: "HDD", SizeBytes: 150e9, Serial: "SN-SDA-01"}
	diskUsed = ai.Disk{Name: "sdb", ByPath: "/dev/disk/by-path/pci-0000:00:06.0-scsi-0:0:0:0", ByID: "/dev/disk/by-id/wwn-0x5000c500a1b2c302",
		DriveType: "SSD", SizeBytes: 960e9, Serial: "SN-SDB-02", Bootable: true, PartitionTypes: "xfs,LVM2_member"}
	diskTiny = ai.Disk{Name: "sdc", ByPath: "/dev/disk/by-path/pci-0000:00:07.0-scsi-0:0:0:0", DriveType: "HDD", SizeBytes: 32e9, Serial: "SN-SDC-03"}
	diskISO  = ai.Disk{Name: "sr0", ByPath: "/dev/disk/by-path/pci-0000:00:1f.2-ata-1", DriveType: "ODD", SizeBytes: 1.2e9,
		Removable: true, Bootable: true, PartitionTypes: "iso9660"}
)

type hwCluster struct {
	t       *testing.T
	clock   *aisim.FakeClock
	sim     *aisim.Sim
	c       *ai.Client
	cluster string
	infra   string
}

func newHWCluster(t *testing.T) *hwCluster {
	t.Helper()
	n := &hwCluster{t: t, clock: aisim.NewFakeClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))}
	sim, err := aisim.New(aisim.Options{Clock: n.clock})
	if err != nil {
		t.Fatal(err)
	}
	n.sim = sim
	srv := httptest.NewServer(sim)
	t.Cleanup(func() {
		srv.Close()
		for _, v := range sim.Violations() {
			t.Errorf("violates the spec: %v", v)
		}
	})
	if n.c, err = ai.New(ai.Config{URL: srv.URL, MaxAttempts: 1}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cl, err := n.c.RegisterCluster(ctx, ai.ClusterCreateParams{Name: "hw", OpenshiftVersion: "4.14", BaseDNSDomain: "lab",
		MachineNetworks: []ai.Network{{CIDR: "172.16.0.0/24"}}, APIVIPs: []ai.VIP{{IP: "172.16.0.100"}},
		IngressVIPs: []ai.VIP{{IP: "172.16.0.101"}}, PullSecret: pullSecret})
	if err != nil {
		t.Fatal(err)
	}
	ie, err := n.c.RegisterInfraEnv(ctx, ai.InfraEnvCreateParams{Name: "ie", ClusterID: cl.ID, OpenshiftVersion: "4.14",
		CPUArchitecture: "x86_64", ImageType: "full-iso", PullSecret: pullSecret})
	if err != nil {
		t.Fatal(err)
	}
	n.cluster, n.infra = cl.ID, ie.ID
	return n
}

func (n *hwCluster) boot(mac, name string, hw aisim.Hardware) ai.Host {
	n.t.Helper()
	if err := n.sim.NodeBooted(aisim.Node{MACs: []string{mac}, Hostname: name, Hardware: &hw}); err != nil {
		n.t.Fatal(err)
	}
	n.clock.Advance(time.Hour)
	return n.host(mac)
}

func (n *hwCluster) host(mac string) ai.Host {
	n.t.Helper()
	hosts, err := n.c.InfraEnvHosts(context.Background(), n.infra)
	if err != nil {
		n.t.Fatal(err)
	}
	h := ai.HostByMAC(hosts, mac)
	if h == nil {
		n.t.Fatalf("no host with %s", mac)
	}
	return *h
}

func failing(t *testing.T, h ai.Host) []string {
	t.Helper()
	v, err := ai.ParseValidations(h.ValidationsInfo)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range v.Failing() {
		ids = append(ids, f.ID)
	}
	return ids
}

func inventoryDisks(t *testing.T, h ai.Host) map[string]ai.Disk {
	t.Helper()
	inv, err := ai.ParseInventory(h.Inventory)
	if err != nil || inv == nil {
		t.Fatalf("inventory %v", err)
	}
	m := map[string]ai.Disk{}
	for _, d := range inv.Disks {
		m[d.Name] = d
	}
	return m
}

// TestDiskEligibility: the inventory carries each disk with the agent's and the service's
// verdicts; the service picks the bootable (leftover) disk by default, and formats it.
func TestDiskEligibility(t *testing.T) {
	n := newHWCluster(t)
	h := n.boot("52:54:00:00:00:41", "master-0", aisim.Hardware{CPUs: 8, MemoryBytes: 32 << 30, Disks: []ai.Disk{diskSmall, diskUsed, diskTiny, diskISO}})
	if f := failing(t, h); len(f) != 0 {
		t.Fatalf("failing %v", f)
	}
	disks := inventoryDisks(t, h)
	if d := disks["sda"]; d.ID != diskSmall.ByID || d.Path != "/dev/sda" || !d.InstallationEligibility.Eligible {
		t.Errorf("sda %+v (id is by-id when there is one)", d)
	}
	if d := disks["sdc"]; d.ID != diskTiny.ByPath || d.InstallationEligibility.Eligible ||
		!slices.Contains(d.InstallationEligibility.NotEligibleReasons, "Disk is too small (disk only has 32 GB, but 100 GB are required)") {
		t.Errorf("sdc %+v", d)
	}
	if d := disks["sr0"]; !d.IsInstallationMedia || d.InstallationEligibility.Eligible ||
		!slices.Contains(d.InstallationEligibility.NotEligibleReasons, "Disk appears to be an ISO installation media (has partition with type iso9660)") {
		t.Errorf("sr0 %+v", d)
	}
	if h.InstallationDiskID != diskUsed.ByID || h.InstallationDiskPath != "/dev/sdb" {
		t.Errorf("installation disk %s %s, want the bootable sdb the service prefers", h.InstallationDiskID, h.InstallationDiskPath)
	}
	if h.DisksToBeFormatted != diskUsed.ByID {
		t.Errorf("disks_to_be_formatted %q, want sdb only (sr0 is the installation media)", h.DisksToBeFormatted)
	}
	install, formatted := n.sim.Formatted("52:54:00:00:00:41")
	if install != diskUsed.ByID || len(formatted) != 0 {
		t.Errorf("formatted %s %v", install, formatted)
	}

	// The flow's host update: install to sda (by its id), keep sdb's data.
	ctx := context.Background()
	sel := []ai.DiskConfigParams{{ID: diskSmall.ByID, Role: ai.DiskRoleInstall}}
	skip := []ai.DiskSkipFormattingParams{{DiskID: diskUsed.ByID, SkipFormatting: true}}
	got, err := n.c.UpdateHost(ctx, n.infra, h.ID, ai.HostUpdateParams{DisksSelectedConfig: &sel, DisksSkipFormatting: &skip})
	if err != nil {
		t.Fatal(err)
	}
	if got.InstallationDiskID != diskSmall.ByID || got.SkipFormattingDisks != diskUsed.ByID {
		t.Errorf("after update: install %s skip %s", got.InstallationDiskID, got.SkipFormattingDisks)
	}
	install, formatted = n.sim.Formatted("52:54:00:00:00:41")
	if install != diskSmall.ByID || len(formatted) != 0 {
		t.Errorf("formatted %s %v, want sda written and nothing else formatted", install, formatted)
	}
	// An ineligible disk is refused, as the service does.
	sel = []ai.DiskConfigParams{{ID: diskTiny.ByPath, Role: ai.DiskRoleInstall}}
	_, err = n.c.UpdateHost(ctx, n.infra, h.ID, ai.HostUpdateParams{DisksSelectedConfig: &sel})
	var apiErr *ai.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 400 || !strings.Contains(err.Error(), "not part of the host's valid disks") {
		t.Errorf("select the tiny disk: %v", err)
	}
}

// TestHardwareValidations: a host with only a too-small disk fails has-min-valid-disks; a
// worker with 4 GiB fails the memory checks, with the service's messages.
func TestHardwareValidations(t *testing.T) {
	n := newHWCluster(t)
	h := n.boot("52:54:00:00:00:42", "master-1", aisim.Hardware{CPUs: 8, MemoryBytes: 32 << 30, Disks: []ai.Disk{diskTiny, diskISO}})
	if f := failing(t, h); !slices.Equal(f, []string{"has-min-valid-disks"}) || h.Status != "insufficient" || h.InstallationDiskID != "" {
		t.Errorf("failing %v, status %s, disk %q", f, h.Status, h.InstallationDiskID)
	}
	h = n.boot("52:54:00:00:00:43", "worker-0", aisim.Hardware{CPUs: 2, MemoryBytes: 4 << 30, Disks: []ai.Disk{diskSmall}})
	role := ai.RoleWorker
	if _, err := n.c.UpdateHost(context.Background(), n.infra, h.ID, ai.HostUpdateParams{HostRole: &role}); err != nil {
		t.Fatal(err)
	}
	h = n.host("52:54:00:00:00:43")
	if f := failing(t, h); !slices.Equal(f, []string{"has-memory-for-role", "has-min-memory"}) {
		t.Errorf("failing %v", f)
	}
	if !strings.Contains(h.StatusInfo, "Require at least 8 GiB RAM for role worker, found only 4 GiB") {
		t.Errorf("status info %q", h.StatusInfo)
	}
	// As a master the same CPUs are too few.
	role = ai.RoleMaster
	if _, err := n.c.UpdateHost(context.Background(), n.infra, h.ID, ai.HostUpdateParams{HostRole: &role}); err != nil {
		t.Fatal(err)
	}
	if f := failing(t, n.host("52:54:00:00:00:43")); !slices.Contains(f, "has-cpu-cores-for-role") {
		t.Errorf("as master: failing %v", f)
	}
	req, err := n.c.PreflightRequirements(context.Background(), n.cluster)
	if err != nil {
		t.Fatal(err)
	}
	if m, w := req.OCP.Master.Quantitative, req.OCP.Worker.Quantitative; m != (ai.HostRequirements{CPUCores: 4, RAMMiB: 16384, DiskSizeGB: 100}) ||
		w != (ai.HostRequirements{CPUCores: 2, RAMMiB: 8192, DiskSizeGB: 100}) {
		t.Errorf("requirements %+v %+v", m, w)
	}
}
