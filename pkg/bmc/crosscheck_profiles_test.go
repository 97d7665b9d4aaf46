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

// sushy carries its own vendor knowledge (Supermicro's UsbCd and refused Inserted/
// WriteProtected, Lenovo's PATCH media, HPE's eject body): driving the vendor profiles with it
// checks that they refuse and accept what the real BMCs do, by an independent client.
const sushyProfileScript = `
import sys, sushy
from sushy import auth
url, sys_path, mgr_path = sys.argv[1:4]
s = sushy.Sushy(url + '/redfish/v1', auth=auth.SessionOrBasicAuth('admin', 'password'))
sysm = s.get_system(sys_path)
sysm.set_system_boot_options(sushy.BootSource.CD, enabled=sushy.BootSourceOverrideEnabled.ONCE)
sysm.refresh()
print('boot', sysm.boot.target.value, sysm.boot.enabled.value)
for vm in s.get_manager(mgr_path).virtual_media.get_members():
    if any(str(t).upper().endswith('CD') for t in vm.media_types):
        vm.eject_media()
        vm.insert_media('http://172.16.0.1/x.iso')
        vm.refresh()
        print('cd', vm.image, vm.inserted)
        vm.eject_media()
        vm.refresh()
        print('ejected', vm.image, vm.inserted)
`

func TestRedfishProfilesWithSushy(t *testing.T) {
	if _, err := os.Stat("/usr/lib/python3/dist-packages/sushy"); err != nil {
		t.Skip("python3-sushy not installed: skipping the cross-check of the vendor profiles")
	}
	for _, tc := range []struct{ profile, boot string }{
		{"supermicro-x12", "UsbCd"},
		{"lenovo-xcc", "Cd"},
		{"hpe-ilo5", "Cd"},
		{"dell-idrac", "Cd"},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			fake := bmctest.NewRedfish(t, bmctest.RedfishOptions{Profile: tc.profile})
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, "/usr/bin/python3", "-c", sushyProfileScript, fake.URL, fake.SystemPath(), fake.ManagerPath()).CombinedOutput()
			if err != nil {
				t.Fatalf("sushy: %v\n%s", err, out)
			}
			want := "boot " + tc.boot + " Once\ncd http://172.16.0.1/x.iso True\nejected None False\n"
			if got := string(out); !strings.HasSuffix(got, want) {
				t.Fatalf("sushy printed\n%s\nwant\n%s", got, want)
			}
			if target, _, _ := fake.Boot(); target != tc.boot {
				t.Fatalf("fake boot %s", target)
			}
		})
	}
}
