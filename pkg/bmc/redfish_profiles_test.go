package bmc_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cn2-appliance/cn2-appliance/pkg/bmc"
	"github.com/cn2-appliance/cn2-appliance/pkg/bmc/bmctest"
)

// profileWant is what each vendor shape must end up with.
type profileWant struct {
	system    string   // the system's Id
	cycle     string   // the reset type a cycle of a running node sends
	once      string   // the BootSourceOverrideEnabled of a one-time boot
	cd        string   // the target cd sets
	modes     bool     // --uefi/--legacy can be set
	http      bool     // UEFI HTTP boot
	auth      string   // session or basic
	mediaLoc  string   // System or Manager
	method    string   // action or PATCH
	params    []string // what an insert sends, once learnt
	protocol  string   // the TransferProtocolType the BMC got
	fallbacks []string // fallback keys in effect after every verb
}

var profileWants = map[string]profileWant{
	"": {system: "437XR1138R2", cycle: "ForceRestart", once: "Once", cd: "Cd", modes: true, auth: "session",
		mediaLoc: "System", method: "PATCH", params: []string{"Image", "Inserted", "WriteProtected"}, fallbacks: []string{"media-by-patch"}},
	"dell-idrac": {system: "System.Embedded.1", cycle: "PowerCycle", once: "Once", cd: "Cd", modes: true, auth: "session",
		mediaLoc: "Manager", method: "action", params: []string{"Image", "Inserted", "WriteProtected"}},
	"hpe-ilo5": {system: "1", cycle: "ForceRestart", once: "Once", cd: "Cd", modes: true, auth: "session",
		mediaLoc: "Manager", method: "action", params: []string{"Image", "Inserted", "WriteProtected"}},
	"hpe-ilo6": {system: "1", cycle: "ForceRestart", once: "Once", cd: "Cd", modes: true, http: true, auth: "session",
		mediaLoc: "Manager", method: "action", params: []string{"Image", "Inserted", "WriteProtected"}},
	"supermicro-x12": {system: "1", cycle: "ForceRestart", once: "Once", cd: "UsbCd", modes: true, auth: "session",
		mediaLoc: "Manager", method: "action", params: []string{"Image"}, fallbacks: []string{"cd-as-usbcd", "insert-without-flags"}},
	"lenovo-xcc": {system: "1", cycle: "ForceRestart", once: "Once", cd: "Cd", modes: true, auth: "session",
		mediaLoc: "Manager", method: "PATCH", params: []string{"Image", "Inserted", "WriteProtected"}, fallbacks: []string{"media-by-patch"}},
	"once-refused": {system: "437XR1138R2", cycle: "ForceRestart", once: "Continuous", cd: "Cd", modes: true, auth: "session",
		mediaLoc: "System", method: "PATCH", params: []string{"Image", "Inserted", "WriteProtected"}, fallbacks: []string{"once-as-continuous", "media-by-patch"}},
	"basic-auth": {system: "437XR1138R2", cycle: "ForceRestart", once: "Once", cd: "Cd", modes: true, auth: "basic",
		mediaLoc: "System", method: "PATCH", params: []string{"Image", "Inserted", "WriteProtected"}, fallbacks: []string{"basic-auth", "media-by-patch"}},
	"actioninfo": {system: "437XR1138R2", cycle: "ForceRestart", once: "Once", cd: "Cd", modes: true, auth: "session",
		mediaLoc: "Manager", method: "action", params: []string{"Image", "TransferProtocolType"}, protocol: "HTTP", fallbacks: []string{"insert-without-flags"}},
	"no-boot-mode": {system: "437XR1138R2", cycle: "ForceRestart", once: "Once", cd: "Cd", auth: "session",
		mediaLoc: "System", method: "PATCH", params: []string{"Image", "Inserted", "WriteProtected"}, fallbacks: []string{"media-by-patch"}},
}

// TestRedfishProfiles drives every verb against every vendor profile and checks what the
// fake BMC holds afterwards.
func TestRedfishProfiles(t *testing.T) {
	names := append([]string{""}, bmctest.RedfishProfileNames()...)
	for _, name := range names {
		want, ok := profileWants[name]
		if !ok {
			t.Errorf("profile %q has no expectations in profileWants", name)
			continue
		}
		label := name
		if label == "" {
			label = "dmtf-mockup"
		}
		t.Run(label, func(t *testing.T) {
			ctx := context.Background()
			fake := bmctest.NewRedfish(t, bmctest.RedfishOptions{Profile: name, TLS: name == "hpe-ilo6"})
			c, logs := loggedClient(t, redfishConfig(fake))

			// status, off, on, cycle
			if st, err := c.PowerState(ctx); err != nil || st != bmc.PowerOn {
				t.Fatalf("status = %v, %v", st, err)
			}
			if err := c.PowerOff(ctx, true); err != nil || fake.PowerState() != "Off" {
				t.Fatalf("off: %v; BMC %s", err, fake.PowerState())
			}
			if st, _ := c.PowerState(ctx); st != bmc.PowerOff {
				t.Fatalf("status after off = %v", st)
			}
			if err := c.PowerOn(ctx); err != nil || fake.PowerState() != "On" {
				t.Fatalf("on: %v; BMC %s", err, fake.PowerState())
			}
			if err := c.PowerCycle(ctx); err != nil || fake.PowerState() != "On" {
				t.Fatalf("cycle: %v; BMC %s", err, fake.PowerState())
			}
			resets := fake.Resets()
			if got := resets[len(resets)-1]; got != want.cycle {
				t.Fatalf("cycle sent %s, want %s (resets %v)", got, want.cycle, resets)
			}

			// pxe, disk, cd: one-time and persistent
			boot := func(o bmc.BootOptions, target, enabled string) {
				t.Helper()
				if err := c.SetBootDevice(ctx, o); err != nil {
					t.Fatalf("%+v: %v", o, err)
				}
				if gt, ge, _ := fake.Boot(); gt != target || ge != enabled {
					t.Fatalf("%+v: BMC has %s %s, want %s %s", o, gt, ge, target, enabled)
				}
			}
			boot(bmc.BootOptions{Device: bmc.BootPXE}, "Pxe", want.once)
			boot(bmc.BootOptions{Device: bmc.BootDisk, Persistent: true}, "Hdd", "Continuous")
			boot(bmc.BootOptions{Device: bmc.BootCD}, want.cd, want.once)
			boot(bmc.BootOptions{Device: bmc.BootDisk}, "Hdd", want.once)

			// --uefi / --legacy
			for _, m := range []struct {
				mode bmc.BootMode
				bmc  string
			}{{bmc.BootModeLegacy, "Legacy"}, {bmc.BootModeUEFI, "UEFI"}} {
				before := len(fake.Requests())
				err := c.SetBootDevice(ctx, bmc.BootOptions{Device: bmc.BootPXE, Mode: m.mode})
				_, _, mode := fake.Boot()
				switch {
				case want.modes && (err != nil || mode != m.bmc):
					t.Fatalf("pxe %s: %v; BMC mode %q", m.mode, err, mode)
				case !want.modes && !errors.Is(err, bmc.ErrNotSupported):
					t.Fatalf("pxe %s without BootSourceOverrideMode: %v, want ErrNotSupported", m.mode, err)
				case !want.modes:
					for _, r := range fake.Requests()[before:] {
						if r.Method == "PATCH" {
							t.Fatalf("pxe %s without BootSourceOverrideMode sent %s", m.mode, r.Body)
						}
					}
				}
			}

			// UEFI HTTP boot
			uri := "http://172.16.0.1:8080/boot/ipxe.efi"
			err := c.SetBootDevice(ctx, bmc.BootOptions{Device: bmc.BootHTTP, HTTPBootURI: uri})
			gt, _, _ := fake.Boot()
			switch {
			case want.http && (err != nil || gt != "UefiHttp" || fake.HTTPBootURI() != uri):
				t.Fatalf("http boot: %v; BMC %s %q", err, gt, fake.HTTPBootURI())
			case !want.http && (!errors.Is(err, bmc.ErrNotSupported) || gt == "UefiHttp"):
				t.Fatalf("http boot on a BMC without it: %v; BMC %s", err, gt)
			}

			// insert (over the mockup's image), again, another, eject, eject again
			iso := "http://172.16.0.1:8080/discovery.iso"
			for _, image := range []string{iso, iso, iso + "?v=2"} {
				if err := c.InsertMedia(ctx, image); err != nil {
					t.Fatalf("insert %s: %v", image, err)
				}
				if img, ins := fake.CD(); img != image || !ins {
					t.Fatalf("after insert %s: BMC CD %q inserted=%t", image, img, ins)
				}
			}
			if got := fake.CDTransferProtocol(); got != want.protocol {
				t.Fatalf("TransferProtocolType %q, want %q", got, want.protocol)
			}
			for i := 0; i < 2; i++ {
				if err := c.EjectMedia(ctx); err != nil {
					t.Fatalf("eject: %v", err)
				}
				if img, ins := fake.CD(); img != "" || ins {
					t.Fatalf("after eject: BMC CD %q inserted=%t", img, ins)
				}
			}
			checkMediaRequests(t, fake, want)

			// probe
			info, err := c.Probe(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info.System != want.system || info.Auth != want.auth || info.Media.Location != want.mediaLoc ||
				info.Media.Method != want.method || !slices.Equal(info.Media.Parameters, want.params) ||
				info.HTTPBoot != want.http || info.OneTimeBoot != (want.once == "Once") || (len(info.BootModes) > 0) != want.modes ||
				!slices.Contains(info.ResetTypes, want.cycle) || info.Media.Resource != fake.CDPath() {
				t.Fatalf("probe: %+v", info)
			}
			t.Logf("probe: %+v", info)
			var keys []string
			for _, f := range info.Fallbacks {
				k, _, _ := strings.Cut(f, ":")
				keys = append(keys, k)
			}
			slices.Sort(keys)
			wantKeys := slices.Clone(want.fallbacks)
			slices.Sort(wantKeys)
			if !slices.Equal(keys, wantKeys) {
				t.Fatalf("fallbacks %v, want %v", info.Fallbacks, want.fallbacks)
			}
			for _, k := range keys { // each logged once, however often it was taken
				if n := strings.Count(logs.String(), "fallback="+k+" "); n != 1 {
					t.Errorf("fallback %s logged %d times:\n%s", k, n, logs)
				}
			}
			checkAuth(t, fake, map[string]string{"basic": "basic"}[want.auth])
		})
	}
}

// checkMediaRequests: ejects by action send {}; ejects by PATCH send Image null with
// Inserted false; every PATCH carries If-Match.
func checkMediaRequests(t *testing.T, fake *bmctest.Redfish, want profileWant) {
	t.Helper()
	for _, r := range fake.Requests() {
		switch {
		case r.Method == "POST" && strings.HasSuffix(r.Path, "/Actions/VirtualMedia.EjectMedia") && r.Body != "{}":
			t.Errorf("EjectMedia body %q, want {}", r.Body)
		case r.Method == "PATCH" && r.Path == fake.CDPath() && want.method == "action":
			t.Errorf("media PATCHed on a BMC with actions: %s", r.Body)
		case r.Method == "PATCH" && r.Path == fake.CDPath() && strings.Contains(r.Body, `"Inserted":false`) && !strings.Contains(r.Body, `"Image":null`):
			t.Errorf("eject PATCH without Image null: %s", r.Body)
		case r.Method == "PATCH" && r.IfMatch == "":
			t.Errorf("PATCH %s without If-Match", r.Path)
		}
	}
}
