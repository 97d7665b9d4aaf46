package bmc_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/bmc/bmctest"
)

// The Redfish fake is only worth what independent clients think of it: these run Debian's
// python3-sushy and redfishtool against it (skipped when they are not installed).

const sushyScript = `
import sys, sushy
from sushy import auth
s = sushy.Sushy(sys.argv[1] + '/redfish/v1', auth=auth.SessionOrBasicAuth('admin', 'password'))
sysm = s.get_system('/redfish/v1/Systems/437XR1138R2')
print('power', sysm.power_state, 'boot', sysm.boot.target, sysm.boot.enabled)
sysm.set_system_boot_options(sushy.BootSource.CD, enabled=sushy.BootSourceOverrideEnabled.CONTINUOUS)
sysm.reset_system(sushy.ResetType.FORCE_OFF)
sysm.refresh()
print('power', sysm.power_state, 'boot', sysm.boot.target, sysm.boot.enabled)
for vm in s.get_manager('/redfish/v1/Managers/BMC').virtual_media.get_members():
    if any(str(t).upper().endswith('CD') for t in vm.media_types):
        vm.eject_media()
        vm.insert_media('http://172.16.0.1/x.iso', inserted=True, write_protected=True)
        vm.refresh()
        print('cd', vm.image, vm.inserted)
`

func TestRedfishFakeWithSushy(t *testing.T) {
	if _, err := os.Stat("/usr/lib/python3/dist-packages/sushy"); err != nil {
		t.Skip("python3-sushy not installed: skipping the cross-check of the Redfish fake")
	}
	fake := bmctest.NewRedfish(t, bmctest.RedfishOptions{MediaUnderManager: true})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "/usr/bin/python3", "-c", sushyScript, fake.URL).CombinedOutput()
	if err != nil {
		t.Fatalf("sushy: %v\n%s", err, out)
	}
	want := "power PowerState.ON boot BootSource.PXE BootSourceOverrideEnabled.ONCE\n" +
		"power PowerState.OFF boot BootSource.CD BootSourceOverrideEnabled.CONTINUOUS\n" +
		"cd http://172.16.0.1/x.iso True\n"
	if string(out) != want {
		t.Fatalf("sushy printed\n%s\nwant\n%s", out, want)
	}
	if img, ins := fake.CD(); img != "http://172.16.0.1/x.iso" || !ins {
		t.Fatalf("fake CD %q %t", img, ins)
	}
}

func TestRedfishFakeWithRedfishtool(t *testing.T) {
	bin, err := exec.LookPath("redfishtool")
	if err != nil {
		t.Skip("redfishtool not installed: skipping the cross-check of the Redfish fake")
	}
	fake := bmctest.NewRedfish(t, bmctest.RedfishOptions{})
	host := strings.TrimPrefix(fake.URL, "http://")
	rt := func(args ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		full := append([]string{"-r", host, "-S", "Never", "-u", "admin", "-p", "password", "Systems", "-I", "437XR1138R2"}, args...)
		out, err := exec.CommandContext(ctx, bin, full...).CombinedOutput()
		if err != nil {
			t.Fatalf("redfishtool %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out := rt("get", "-P", "PowerState"); !strings.Contains(out, `"PowerState": "On"`) {
		t.Fatalf("redfishtool get: %s", out)
	}
	rt("setBootOverride", "Once", "Hdd")
	rt("reset", "GracefulShutdown")
	if target, enabled, _ := fake.Boot(); target != "Hdd" || enabled != "Once" || fake.PowerState() != "Off" {
		t.Fatalf("fake after redfishtool: %s %s %s", target, enabled, fake.PowerState())
	}
}
