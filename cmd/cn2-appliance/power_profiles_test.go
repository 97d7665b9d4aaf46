package main

import (
	"os"
	"strings"
	"testing"

	"github.com/cn2-appliance/cn2-appliance/pkg/bmc/bmctest"
)

// TestPowerRedfishProfiles runs every power verb against every vendor profile of the Redfish
// fake and checks the fake BMC's state after each. Dell's address is given in the system-path
// form (https://bmc/redfish/v1/Systems/<id>).
func TestPowerRedfishProfiles(t *testing.T) {
	type want struct {
		cycle, once, cd string
		modes, http     bool
		probe           []string // in the capability table
	}
	wants := map[string]want{
		"dell-idrac": {"PowerCycle", "Once", "Cd", true, false, []string{"under the Manager", "by action", "PowerCycle", "fallbacks       none"}},
		"hpe-ilo5":   {"ForceRestart", "Once", "Cd", true, false, []string{"UEFI HTTP boot  no"}},
		"hpe-ilo6":   {"ForceRestart", "Once", "Cd", true, true, []string{"UEFI HTTP boot  yes"}},
		// A refusal is learnt by the call that meets it (the insert logs it); a later probe in a
		// new process knows only what the BMC advertises.
		"supermicro-x12": {"ForceRestart", "Once", "UsbCd", true, false, []string{"cd-as-usbcd: "}},
		"lenovo-xcc":     {"ForceRestart", "Once", "Cd", true, false, []string{"by PATCH", "media-by-patch: "}},
		"once-refused":   {"ForceRestart", "Continuous", "Cd", true, false, []string{"one-time boot   no: Continuous", "once-as-continuous: "}},
		"basic-auth":     {"ForceRestart", "Once", "Cd", true, false, []string{"basic (on every request)", "basic-auth: "}},
		"actioninfo":     {"ForceRestart", "Once", "Cd", true, false, []string{"insert sends Image, TransferProtocolType"}},
		"no-boot-mode":   {"ForceRestart", "Once", "Cd", false, false, []string{"boot modes      none"}},
	}
	for _, name := range bmctest.RedfishProfileNames() {
		w, ok := wants[name]
		if !ok {
			t.Errorf("profile %s has no expectations here", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			rf := bmctest.NewRedfish(t, bmctest.RedfishOptions{Profile: name, Username: readSecretFile(t, "bmc-username"), Password: readSecretFile(t, "bmc-password")})
			lab := peerLab(t, rf, nil, nil)
			if name == "dell-idrac" {
				b, _ := os.ReadFile(lab)
				if err := os.WriteFile(lab, []byte(strings.Replace(string(b), rf.URL+"\n", rf.URL+rf.SystemPath()+"\n", 1)), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			boot := func(target, enabled, mode string) {
				t.Helper()
				gt, ge, gm := rf.Boot()
				if gt != target || ge != enabled || (mode != "" && gm != mode) {
					t.Fatalf("BMC boot %s %s %s, want %s %s %s", gt, ge, gm, target, enabled, mode)
				}
			}
			mustPower(t, lab, "master-0: on", "master-0", "status")
			mustPower(t, lab, "master-0: off: done", "master-0", "off")
			mustPower(t, lab, "master-0: off", "master-0", "status")
			if rf.PowerState() != "Off" {
				t.Fatalf("BMC power %s", rf.PowerState())
			}
			mustPower(t, lab, "master-0: on: done", "master-0", "on")
			mustPower(t, lab, "master-0: cycle: done", "master-0", "cycle")
			if r := rf.Resets(); rf.PowerState() != "On" || r[len(r)-1] != w.cycle {
				t.Fatalf("BMC power %s, resets %v; want the cycle as %s", rf.PowerState(), r, w.cycle)
			}
			mustPower(t, lab, "master-0: pxe: done", "master-0", "pxe")
			boot("Pxe", w.once, "")
			mustPower(t, lab, "master-0: disk: done", "master-0", "disk", "--persistent")
			boot("Hdd", "Continuous", "")
			mustPower(t, lab, "master-0: cd: done", "master-0", "cd")
			boot(w.cd, w.once, "")
			if w.modes {
				mustPower(t, lab, "master-0: pxe: done", "master-0", "pxe", "--legacy")
				boot("Pxe", w.once, "Legacy")
				mustPower(t, lab, "master-0: disk: done", "master-0", "disk", "--uefi")
				boot("Hdd", w.once, "UEFI")
			} else {
				_, errOut, code := power(t, lab, "master-0", "pxe", "--uefi")
				if code != 1 || !strings.Contains(errOut, "not supported: boot mode uefi: the system has no BootSourceOverrideMode") {
					t.Fatalf("pxe --uefi without BootSourceOverrideMode: code %d\n%s", code, errOut)
				}
				boot(w.cd, w.once, "") // nothing sent
			}
			uri := "http://172.16.0.1:8080/boot/ipxe.efi"
			if w.http {
				mustPower(t, lab, "master-0: http "+uri+": done", "master-0", "http", uri)
				boot("UefiHttp", w.once, "")
				if rf.HTTPBootURI() != uri {
					t.Fatalf("BMC HttpBootUri %q", rf.HTTPBootURI())
				}
			} else {
				before, _, _ := rf.Boot()
				_, errOut, code := power(t, lab, "master-0", "http", uri)
				if after, _, _ := rf.Boot(); code != 1 || !strings.Contains(errOut, "not supported: UEFI HTTP boot") || after != before {
					t.Fatalf("http on a BMC without it: code %d, boot %s\n%s", code, after, errOut)
				}
			}
			iso := "http://172.16.0.1:8080/discovery.iso"
			out, errOut, code := power(t, lab, "master-0", "insert", iso)
			if img, ins := rf.CD(); code != 0 || !strings.Contains(out, "master-0: insert "+iso+": done") || img != iso || !ins {
				t.Fatalf("insert: code %d, BMC CD %q %t\n%s%s", code, img, ins, out, errOut)
			}
			if learnt := strings.Contains(errOut, "fallback=insert-without-flags"); learnt != (name == "supermicro-x12" || name == "actioninfo") {
				t.Fatalf("insert: fallback insert-without-flags logged %t\n%s", learnt, errOut)
			}
			mustPower(t, lab, "master-0: eject: done", "master-0", "eject")
			if img, ins := rf.CD(); img != "" || ins {
				t.Fatalf("BMC CD after eject %q %t", img, ins)
			}
			out, _, _ = power(t, lab, "master-0", "probe")
			for _, s := range append(w.probe, "capability", "power actions", "virtual media") {
				if !strings.Contains(out, s) {
					t.Errorf("probe output lacks %q:\n%s", s, out)
				}
			}
			t.Logf("probe:\n%s", out)
		})
	}
}
