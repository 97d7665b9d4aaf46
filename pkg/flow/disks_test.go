package flow_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/aisim"
	"github.com/cn2-appliance/cn2-appliance/internal/labsim"
	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/flow"
)

func newClient(t *testing.T, lab *config.Lab, url string) *ai.Client {
	t.Helper()
	c, err := ai.New(ai.Config{URL: url, OfflineToken: string(lab.AssistedInstaller.OfflineToken.Reveal()), TokenURL: url + aisim.TokenPath})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// diskID is the inventory id (by-id) of a simulated node's disk.
func diskID(node, disk string) string { return "/dev/disk/by-id/wwn-" + labsim.DiskWWN(node, disk) }

// TestInstallDiskRulesAndDebugAccess installs the example lab, whose nodes name their
// install disk each another way (byPath, byID, serial, smallest rule) and one of them wipes
// its other disks, with debug access set: every node's image goes to sda, only worker-1's
// leftover disk is formatted, the kernel arguments reach the infra env and the core password
// hash the ignition override.
func TestInstallDiskRulesAndDebugAccess(t *testing.T) {
	lab := exampleLab(t)
	lab.Cluster.DiscoveryKernelArguments = []string{"console=ttyS0,115200n8", "rd.debug"}
	const hash = "$y$j9T$FAKEsaltFAKEsalt$FAKEhashFAKEhashFAKEhashFAKEhashFAKEhash12"
	lab.Cluster.DiscoveryPasswordHash = config.NewSecret([]byte(hash))
	sim, url := newSim(t, aisim.Options{})
	f, st := newFlow(t, lab, url, t.TempDir(), t.TempDir(), &fakeBoot{})
	defer st.Close()
	runToEnd(t, f)

	for _, n := range lab.Nodes {
		hw := labsim.NodeHardware(n, 0)
		leftover := hw.Disks[1].Bootable // sdb held an earlier install: the installer's own pick
		install, formatted := sim.Formatted(string(n.NICs[0].MAC))
		if install != diskID(n.Name, "sda") {
			t.Errorf("%s: installed to %s, want sda (%s)", n.Name, install, n.InstallDisk)
		}
		var want []string
		if n.WipeDisks && leftover {
			want = append(want, diskID(n.Name, "sdb"))
		}
		if !slices.Equal(formatted, want) {
			t.Errorf("%s: formatted %v, want %v (wipeDisks %v, sdb bootable %v)", n.Name, formatted, want, n.WipeDisks, leftover)
		}
	}
	if len(f.DiskProblems()) != 0 {
		t.Errorf("disk problems %v", f.DiskProblems())
	}

	infra, err := newClient(t, lab, url).GetInfraEnv(context.Background(), f.State().InfraEnvID)
	if err != nil {
		t.Fatal(err)
	}
	var kargs []ai.KernelArgument
	if infra.KernelArguments == nil || json.Unmarshal([]byte(*infra.KernelArguments), &kargs) != nil ||
		!slices.Equal(kargs, []ai.KernelArgument{{Operation: "append", Value: "console=ttyS0,115200n8"}, {Operation: "append", Value: "rd.debug"}}) {
		t.Errorf("infra env kernel_arguments %v", infra.KernelArguments)
	}
	cfg, err := ai.ParseIgnition([]byte(infra.IgnitionConfigOverride)) // Ignition's own parser and validation
	if err != nil {
		t.Fatal(err)
	}
	var core string
	for _, u := range cfg.Passwd.Users {
		if u.Name == "core" && u.PasswordHash != nil {
			core = *u.PasswordHash
		}
	}
	if core != hash || len(cfg.Systemd.Units) == 0 {
		t.Errorf("override: core hash %q, units %d (the CA patch must stay)", core, len(cfg.Systemd.Units))
	}
	events, err := st.RecentEvents(1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if strings.Contains(e.Message, "FAKEhash") {
			t.Errorf("event quotes the password hash: %s", e.Message)
		}
	}
}

// TestInstallDiskMissing: a node whose installDisk matches no disk of its inventory is held
// (the install does not start) and needs attention, with the disks it has listed.
func TestInstallDiskMissing(t *testing.T) {
	lab := exampleLab(t)
	lab.Nodes[1].InstallDisk = &config.InstallDisk{ByPath: "/dev/disk/by-path/pci-0000:00:09.0-nvme-1"}
	lab.Nodes[2].InstallDisk = &config.InstallDisk{ByPath: labsim.SlotBoot} // too small
	sim, url := newSim(t, aisim.Options{})
	f, st := newFlow(t, lab, url, t.TempDir(), t.TempDir(), &fakeBoot{})
	defer st.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	var problems map[string]string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && len(problems) < 2; time.Sleep(20 * time.Millisecond) {
		problems = f.DiskProblems()
	}
	// The flow stays in discovery while the disks do not match: let it poll a few more times.
	polls := sim.Stats().Requests
	for sim.Stats().Requests < polls+40 {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	p1, p2 := problems["master-1"], problems["master-2"]
	if !strings.Contains(p1, "installDisk byPath /dev/disk/by-path/pci-0000:00:09.0-nvme-1 matches none of its disks; it has: sda 120 GB HDD byPath "+labsim.SlotInstall) ||
		!strings.Contains(p1, "sr0 1 GB ODD byPath "+labsim.SlotCD+" (installation media)") || !strings.Contains(p1, "Change nodes[master-1].installDisk") {
		t.Errorf("master-1: %q", p1)
	}
	if !strings.Contains(p2, "is sdc, which the installer will not install to (Disk is too small (disk only has 32 GB, but 100 GB are required))") {
		t.Errorf("master-2: %q", p2)
	}
	for _, s := range f.Steps() {
		if s.Name == "install" && s.State != flow.StatePending {
			t.Errorf("install step %s while the disks do not match", s.State)
		}
	}
	if c := f.Observed().Cluster; c != nil && c.Status == "installing" {
		t.Error("the install started")
	}
}
