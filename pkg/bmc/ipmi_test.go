package bmc_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/bmc"
	"github.com/cn2-appliance/cn2-appliance/pkg/bmc/bmctest"
)

func ipmiClient(t *testing.T, sim *bmctest.IPMISim, mod ...func(*bmc.Config)) *bmc.Client {
	t.Helper()
	cfg := bmc.Config{Node: "worker-1", Driver: bmc.DriverIPMI, Address: sim.Host, Port: sim.Port,
		Username: sim.Username, Password: sim.Password, Timeout: 20 * time.Second, Attempts: 2, Backoff: 50 * time.Millisecond}
	return testClient(t, cfg, mod...)
}

func TestIPMISim(t *testing.T) {
	sim := bmctest.StartIPMISim(t)
	c := ipmiClient(t, sim)
	ctx := context.Background()

	if st, err := c.PowerState(ctx); err != nil || st != bmc.PowerOff {
		t.Fatalf("PowerState = %v, %v", st, err)
	}
	if err := c.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
	if sim.Power() != "1" {
		t.Fatalf("chassis power %s after on", sim.Power())
	}
	if out := sim.IPMITool(t, "chassis", "power", "status"); !strings.Contains(out, "Chassis Power is on") {
		t.Fatalf("ipmitool: %s", out)
	}
	if st, err := c.PowerState(ctx); err != nil || st != bmc.PowerOn {
		t.Fatalf("PowerState = %v, %v", st, err)
	}

	if err := c.SetBootDevice(ctx, bmc.BootOptions{Device: bmc.BootPXE, Mode: bmc.BootModeUEFI}); err != nil {
		t.Fatal(err)
	}
	if sim.BootDevice() != "pxe" {
		t.Fatalf("chassis boot %q", sim.BootDevice())
	}
	if err := c.SetBootDevice(ctx, bmc.BootOptions{Device: bmc.BootCD}); err != nil {
		t.Fatal(err)
	}
	if sim.BootDevice() != "cdrom" {
		t.Fatalf("chassis boot %q", sim.BootDevice())
	}
	if err := c.SetBootDevice(ctx, bmc.BootOptions{Device: bmc.BootPXE, Mode: bmc.BootModeUEFI}); err != nil {
		t.Fatal(err)
	}
	if sim.BootDevice() != "pxe" {
		t.Fatalf("chassis boot %q", sim.BootDevice())
	}
	// ipmi_sim keeps only the device (through the chassis script) and answers parameter 5
	// without the valid/persistent/EFI bits, even when ipmitool sets them; the bits this driver
	// sends are checked in TestIPMIBootFlags.
	out := sim.IPMITool(t, "chassis", "bootparam", "get", "5")
	for _, want := range []string{"Force PXE"} {
		if !strings.Contains(out, want) {
			t.Errorf("bootparam 5 lacks %q:\n%s", want, out)
		}
	}
	if err := c.SetBootDevice(ctx, bmc.BootOptions{Device: bmc.BootDisk, Persistent: true, Mode: bmc.BootModeLegacy}); err != nil {
		t.Fatal(err)
	}
	out = sim.IPMITool(t, "chassis", "bootparam", "get", "5")
	for _, want := range []string{"Force Boot from default Hard-Drive"} {
		if !strings.Contains(out, want) {
			t.Errorf("bootparam 5 lacks %q:\n%s", want, out)
		}
	}

	if err := c.PowerCycle(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.PowerOff(ctx, true); err != nil {
		t.Fatal(err)
	}
	if sim.Power() != "0" {
		t.Fatalf("chassis power %s after off", sim.Power())
	}
	if out := sim.IPMITool(t, "chassis", "power", "status"); !strings.Contains(out, "Chassis Power is off") {
		t.Fatalf("ipmitool: %s", out)
	}
	if err := c.PowerCycle(ctx); err != nil { // off: powers on
		t.Fatal(err)
	}
	if sim.Power() != "1" {
		t.Fatalf("chassis power %s after cycle from off", sim.Power())
	}
	log := sim.ChassisLog()
	if !strings.Contains(log, "set power 0") || !strings.Contains(log, "set boot pxe") {
		t.Fatalf("chassis log:\n%s", log)
	}

	err := c.InsertMedia(ctx, "http://172.16.0.1/x.iso")
	if !errors.Is(err, bmc.ErrNotSupported) || !strings.Contains(err.Error(), "node worker-1 (ipmi): insert-media") {
		t.Fatalf("InsertMedia err = %v", err)
	}
	info, err := c.Probe(ctx)
	if err != nil || info.Vendor != "IANA 4753" {
		t.Fatalf("probe %+v, %v", info, err)
	}
}

func TestIPMIWrongPassword(t *testing.T) {
	sim := bmctest.StartIPMISim(t)
	c := ipmiClient(t, sim, func(c *bmc.Config) { c.Password = "wrong-password-99" })
	_, err := c.PowerState(context.Background())
	if err == nil || strings.Contains(err.Error(), "wrong-password-99") || !strings.Contains(err.Error(), "node worker-1 (ipmi): power-state") {
		t.Fatalf("err = %v", err)
	}
	if !errors.Is(err, bmc.ErrAuth) || attempts(t, err) != 1 {
		t.Fatalf("err = %v: want ErrAuth after one try", err)
	}
	t.Log(err)
}

// TestIPMICipherSuite17 shows why the suite is configurable: ipmi_sim refuses 17.
func TestIPMICipherSuite17(t *testing.T) {
	sim := bmctest.StartIPMISim(t)
	c := ipmiClient(t, sim, func(c *bmc.Config) { c.CipherSuite = 17; c.Attempts = 1 })
	_, err := c.PowerState(context.Background())
	if err == nil || !strings.Contains(err.Error(), "cipher suite 17") {
		t.Fatalf("err = %v", err)
	}
	t.Log(err)
}
