package doctor

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/testlab"
	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
	"github.com/cn2-appliance/cn2-appliance/pkg/bmc"
	"github.com/cn2-appliance/cn2-appliance/pkg/bmc/bmctest"
)

// TestHardwareAgainstRedfishFake: the example lab's nodes read through the Redfish fake, one
// machine big enough, one too small for a control-plane node on every count, one whose
// storage the BMC does not show; an IPMI node is skipped; the installer's requirements win
// over the defaults when it offers them.
func TestHardwareAgainstRedfishFake(t *testing.T) {
	lab := testlab.Example(t)
	big := bmctest.NewRedfish(t, bmctest.RedfishOptions{})
	big.SetHardware(bmctest.RedfishHardware{LogicalProcessors: 16, MemoryGiB: 64, Drives: []bmctest.RedfishDrive{{Name: "Disk.Bay.0", CapacityBytes: 480e9}}})
	small := bmctest.NewRedfish(t, bmctest.RedfishOptions{})
	small.SetHardware(bmctest.RedfishHardware{LogicalProcessors: 2, MemoryGiB: 8, SimpleStorage: true,
		Drives: []bmctest.RedfishDrive{{Name: "SATADOM", CapacityBytes: 64e9}}})
	mockup := bmctest.NewRedfish(t, bmctest.RedfishOptions{}) // CPUs and memory only
	fakes := map[string]*bmctest.Redfish{"master-0": big, "master-1": small, "worker-0": mockup, "worker-1": big}
	read := func(ctx context.Context, node string) (bmc.Hardware, error) {
		fake, ok := fakes[node]
		if !ok {
			return bmc.Hardware{}, fmt.Errorf("ipmi: %w", bmc.ErrNotSupported)
		}
		c, err := bmc.New(bmc.Config{Node: node, Driver: bmc.DriverRedfish, Address: fake.URL, Username: "admin", Password: "password",
			Timeout: 5 * time.Second, Attempts: 1})
		if err != nil {
			return bmc.Hardware{}, err
		}
		defer c.Close()
		return c.Hardware(ctx)
	}
	env := &Env{Lab: lab, NodeHardware: read}
	byNode := map[string]Result{}
	for _, r := range checkHardware(context.Background(), env) {
		byNode[r.Target] = r
	}
	if r := byNode["master-0"]; r.Status != StatusOK || !strings.Contains(r.Message, "enough for a control-plane node (4 CPUs, 16 GiB, a 100 GB disk; the installer's defaults): 16 CPUs, 64 GiB, disks: Disk.Bay.0 480 GB") {
		t.Errorf("master-0: %+v", r)
	}
	if r := byNode["master-1"]; r.Status != StatusError || !strings.Contains(r.Message, "2 CPUs, a control-plane node needs 4; 8 GiB of memory, a control-plane node needs 16 GiB; no disk of 100 GB or more (SATADOM 64 GB)") ||
		!strings.Contains(r.Message, "SimpleStorage") || !strings.Contains(r.Fix, "nodes[].installDisk") {
		t.Errorf("master-1: %+v", r)
	}
	if r := byNode["master-2"]; r.Status != StatusSkipped || !strings.Contains(r.Message, "ipmi BMC does not describe the hardware") {
		t.Errorf("master-2: %+v", r)
	}
	if r := byNode["worker-0"]; r.Status != StatusOK || !strings.Contains(r.Message, "the installer checks after discovery") {
		t.Errorf("worker-0: %+v", r)
	}
	// The installer's requirements, when it offers them, replace the defaults.
	env.Requirements = func(context.Context) (*ai.PreflightRequirements, error) {
		var r ai.PreflightRequirements
		r.OCP.Master.Quantitative = ai.HostRequirements{CPUCores: 32, RAMMiB: 16384, DiskSizeGB: 100}
		r.OCP.Worker.Quantitative = ai.HostRequirements{CPUCores: 2, RAMMiB: 8192, DiskSizeGB: 100}
		return &r, nil
	}
	for _, r := range checkHardware(context.Background(), env) {
		if r.Target == "master-0" && (r.Status != StatusError || !strings.Contains(r.Message, "16 CPUs, a control-plane node needs 32") || !strings.Contains(r.Message, "preflight requirements")) {
			t.Errorf("master-0 with the installer's requirements: %+v", r)
		}
	}
	if r := checkHardware(context.Background(), &Env{Lab: lab}); len(r) != 1 || r[0].Status != StatusSkipped {
		t.Errorf("without BMC access: %+v", r)
	}
}

// TestHardwareAgainstLibvirt reads libvirtd's test domain for a worker: the test driver's
// 2 vCPUs, 8 GiB and its volume behind vda, just enough.
func TestHardwareAgainstLibvirt(t *testing.T) {
	lv := bmctest.StartLibvirtd(t)
	lab := testlab.Example(t)
	lab.Nodes = lab.Nodes[3:4] // worker-0, a libvirt node
	read := func(ctx context.Context, node string) (bmc.Hardware, error) {
		c, err := bmc.New(bmc.Config{Node: node, Driver: bmc.DriverLibvirt, URI: lv.URI, Domain: "test", Timeout: 10 * time.Second, Attempts: 1})
		if err != nil {
			return bmc.Hardware{}, err
		}
		defer c.Close()
		return c.Hardware(ctx)
	}
	res := checkHardware(context.Background(), &Env{Lab: lab, NodeHardware: read})
	if len(res) != 1 || !strings.Contains(res[0].Message, "from libvirt domain XML") {
		t.Fatalf("results %+v", res)
	}
	if res[0].Status != StatusOK || !strings.Contains(res[0].Message, "2 CPUs, 8 GiB, disks: vda 1.1 TB") {
		t.Errorf("%+v", res[0])
	}
}
