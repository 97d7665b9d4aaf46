package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cn2-appliance/cn2-appliance/pkg/bmc/bmctest"
)

// peerLab writes the example lab with master-0's BMC pointed at the Redfish fake, master-2's
// at ipmi_sim and worker-0's at the private libvirtd's test domain; peers that are nil keep
// the example's (unreachable) BMC.
func peerLab(t *testing.T, rf *bmctest.Redfish, sim *bmctest.IPMISim, lv *bmctest.Libvirtd) string {
	t.Helper()
	b, err := os.ReadFile(exampleLab)
	if err != nil {
		t.Fatal(err)
	}
	configs, _ := filepath.Abs("../../configs")
	dir := t.TempDir()
	s := strings.NewReplacer("example-secrets/", configs+"/example-secrets/", "manifestsDir: example-manifests", "manifestsDir: "+configs+"/example-manifests").Replace(string(b))
	replace := func(old, new string) {
		if strings.Count(s, old) != 1 {
			t.Fatalf("example lab: %q is not there exactly once", old)
		}
		s = strings.Replace(s, old, new, 1)
	}
	if rf != nil {
		replace("address: https://10.0.0.11\n", "address: "+rf.URL+"\n")
	}
	if sim != nil {
		pw := filepath.Join(dir, "ipmi-password")
		if err := os.WriteFile(pw, []byte(sim.Password+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		replace("address: 10.0.0.13\n      port: 623\n      username: admin\n      passwordFile: "+configs+"/example-secrets/ipmi-password",
			"address: 127.0.0.1\n      port: "+strconv.Itoa(sim.Port)+"\n      username: "+sim.Username+"\n      passwordFile: "+pw)
	}
	if lv != nil {
		replace("uri: qemu:///system\n      domain: worker-0\n", "uri: "+lv.URI+"\n      domain: test\n")
	}
	lab := filepath.Join(dir, "lab.yaml")
	if err := os.WriteFile(lab, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return lab
}

// power runs the power command with debug logs and checks that no secret reaches the output.
func power(t *testing.T, lab string, args ...string) (string, string, int) {
	t.Helper()
	out, errOut, code := run(t, append([]string{"power", "-c", lab, "--log-level", "debug"}, args...)...)
	for _, secret := range []string{"ipmi-pass-4711", readSecretFile(t, "bmc-password")} {
		if strings.Contains(out+errOut, secret) {
			t.Fatalf("power %v printed a password:\n%s%s", args, out, errOut)
		}
	}
	return out, errOut, code
}

func readSecretFile(t *testing.T, name string) string {
	b, err := os.ReadFile(filepath.Join("../../configs/example-secrets", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func mustPower(t *testing.T, lab string, want string, args ...string) {
	t.Helper()
	out, errOut, code := power(t, lab, args...)
	if code != 0 || !strings.Contains(out, want) {
		t.Fatalf("power %v: code %d, want %q in stdout\nstdout: %s\nstderr: %s", args, code, want, out, errOut)
	}
}

func TestPowerRedfish(t *testing.T) {
	rf := bmctest.NewRedfish(t, bmctest.RedfishOptions{Username: readSecretFile(t, "bmc-username"), Password: readSecretFile(t, "bmc-password")})
	lab := peerLab(t, rf, nil, nil)
	mustPower(t, lab, "master-0: on", "master-0", "status")
	mustPower(t, lab, "master-0: off: done", "master-0", "off")
	if rf.PowerState() != "Off" {
		t.Fatalf("fake power %s", rf.PowerState())
	}
	mustPower(t, lab, "master-0: off", "master-0", "status")
	mustPower(t, lab, "master-0: pxe: done", "master-0", "pxe", "--uefi")
	if target, enabled, mode := rf.Boot(); target != "Pxe" || enabled != "Once" || mode != "UEFI" {
		t.Fatalf("fake boot %s %s %s", target, enabled, mode)
	}
	mustPower(t, lab, "master-0: disk: done", "master-0", "disk", "--persistent")
	if target, enabled, _ := rf.Boot(); target != "Hdd" || enabled != "Continuous" {
		t.Fatalf("fake boot %s %s", target, enabled)
	}
	mustPower(t, lab, "master-0: cycle: done", "master-0", "cycle")
	mustPower(t, lab, "done", "master-0", "insert", "http://172.16.0.1:8080/discovery.iso")
	if img, ins := rf.CD(); img != "http://172.16.0.1:8080/discovery.iso" || !ins {
		t.Fatalf("fake CD %q %t", img, ins)
	}
	mustPower(t, lab, "master-0: eject: done", "master-0", "eject")
	mustPower(t, lab, "vendor Contoso, model 3500", "master-0", "probe")
	if got := strings.Join(rf.Resets(), ","); got != "ForceOff,On" {
		t.Fatalf("resets %s", got)
	}
}

func TestPowerIPMI(t *testing.T) {
	sim := bmctest.StartIPMISim(t)
	lab := peerLab(t, nil, sim, nil)
	mustPower(t, lab, "master-2: off", "master-2", "status")
	mustPower(t, lab, "master-2: pxe: done", "master-2", "pxe")
	mustPower(t, lab, "master-2: on: done", "master-2", "on")
	if sim.Power() != "1" || sim.BootDevice() != "pxe" {
		t.Fatalf("sim power %s boot %s", sim.Power(), sim.BootDevice())
	}
	if out := sim.IPMITool(t, "chassis", "power", "status"); !strings.Contains(out, "Chassis Power is on") {
		t.Fatalf("ipmitool: %s", out)
	}
	mustPower(t, lab, "master-2: cycle: done", "master-2", "cycle")
	mustPower(t, lab, "master-2: off: done", "master-2", "off")
	if sim.Power() != "0" {
		t.Fatalf("sim power %s", sim.Power())
	}
	_, errOut, code := power(t, lab, "master-2", "insert", "http://172.16.0.1/x.iso")
	if code != 1 || !strings.Contains(errOut, "bmc: node master-2 (ipmi): insert-media: not supported") {
		t.Fatalf("insert on ipmi: code %d\n%s", code, errOut)
	}
}

func TestPowerLibvirt(t *testing.T) {
	lv := bmctest.StartLibvirtd(t)
	lab := peerLab(t, nil, nil, lv)
	mustPower(t, lab, "worker-0: on", "worker-0", "status")
	mustPower(t, lab, "worker-0: off: done", "worker-0", "off")
	mustPower(t, lab, "worker-0: off", "worker-0", "status")
	mustPower(t, lab, "worker-0: pxe: done", "worker-0", "pxe")
	mustPower(t, lab, "worker-0: insert /srv/discovery.iso: done", "worker-0", "insert", "/srv/discovery.iso")
	mustPower(t, lab, "worker-0: on: done", "worker-0", "on")
	mustPower(t, lab, "worker-0: cycle: done", "worker-0", "cycle")
	mustPower(t, lab, "worker-0: eject: done", "worker-0", "eject")
	mustPower(t, lab, "worker-0: disk: done", "worker-0", "disk")
	mustPower(t, lab, "model TEST", "worker-0", "probe")
	mustPower(t, lab, "worker-0: on", "worker-0", "status")
}

func TestPowerUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"nope", "status"}, `no node "nope"`},
		{[]string{"master-0", "dance"}, `unknown action "dance"`},
		{[]string{"master-0", "insert"}, "give the ISO's URL"},
		{[]string{"master-0", "http"}, "give the URL the firmware boots from"},
		{[]string{"master-0", "pxe", "--uefi", "--legacy"}, "not both"},
	} {
		_, errOut, code := power(t, exampleLab, tc.args...)
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("power %v: code %d\n%s", tc.args, code, errOut)
		}
	}
}
