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

func redfishClient(t *testing.T, fake *bmctest.Redfish, auth string, mod ...func(*bmc.Config)) *bmc.Client {
	t.Helper()
	cfg := bmc.Config{Node: "master-0", Driver: bmc.DriverRedfish, Address: fake.URL, Username: "admin",
		Password: "password", Auth: auth, Insecure: true, Timeout: 10 * time.Second, Attempts: 2, Backoff: 10 * time.Millisecond}
	return testClient(t, cfg, mod...)
}

func TestRedfishVariants(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts bmctest.RedfishOptions
		auth string
	}{
		{"media-under-system/session", bmctest.RedfishOptions{}, "session"},
		{"media-under-manager/basic", bmctest.RedfishOptions{MediaUnderManager: true}, "basic"},
		{"strict/auto-auth/tls", bmctest.RedfishOptions{Strict: true, TLS: true}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			fake := bmctest.NewRedfish(t, tc.opts)
			c := redfishClient(t, fake, tc.auth)

			st, err := c.PowerState(ctx)
			if err != nil || st != bmc.PowerOn {
				t.Fatalf("PowerState = %v, %v; want on", st, err)
			}
			if err := c.PowerOff(ctx, true); err != nil {
				t.Fatal(err)
			}
			if got := fake.PowerState(); got != "Off" {
				t.Fatalf("after forced off: %s", got)
			}
			if err := c.PowerOff(ctx, true); err != nil { // already off: no second reset
				t.Fatal(err)
			}
			if err := c.PowerCycle(ctx); err != nil { // off: powers on
				t.Fatal(err)
			}
			if err := c.PowerCycle(ctx); err != nil { // on: the mockup has no PowerCycle, so ForceRestart
				t.Fatal(err)
			}
			if err := c.PowerOff(ctx, false); err != nil {
				t.Fatal(err)
			}
			if err := c.PowerOn(ctx); err != nil {
				t.Fatal(err)
			}
			want := []string{"ForceOff", "On", "ForceRestart", "GracefulShutdown", "On"}
			if got := fake.Resets(); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("resets %v, want %v", got, want)
			}

			legacyDisk := bmc.BootOptions{Device: bmc.BootDisk, Persistent: true, Mode: bmc.BootModeLegacy}
			if tc.opts.Strict {
				// No BootSourceOverrideMode: a mode cannot be set, and nothing is sent.
				if err := c.SetBootDevice(ctx, legacyDisk); !errors.Is(err, bmc.ErrNotSupported) {
					t.Fatalf("legacy on a system without BootSourceOverrideMode: %v, want ErrNotSupported", err)
				}
				legacyDisk.Mode = bmc.BootModeUnchanged
			}
			if err := c.SetBootDevice(ctx, legacyDisk); err != nil {
				t.Fatal(err)
			}
			target, enabled, mode := fake.Boot()
			wantMode := "Legacy"
			if tc.opts.Strict {
				wantMode = "" // this BMC has no BootSourceOverrideMode: the PATCH must not send it
			}
			if target != "Hdd" || enabled != "Continuous" || mode != wantMode {
				t.Fatalf("boot = %s %s %s", target, enabled, mode)
			}
			uefiPXE := bmc.BootOptions{Device: bmc.BootPXE, Mode: bmc.BootModeUEFI}
			if tc.opts.Strict {
				uefiPXE.Mode = bmc.BootModeUnchanged
			}
			if err := c.SetBootDevice(ctx, uefiPXE); err != nil {
				t.Fatal(err)
			}
			if target, enabled, _ = fake.Boot(); target != "Pxe" || enabled != "Once" {
				t.Fatalf("boot = %s %s", target, enabled)
			}
			checkBootPatches(t, fake, tc.opts.Strict)

			iso := "http://172.16.0.1:8080/discovery.iso"
			if err := c.InsertMedia(ctx, iso); err != nil {
				t.Fatal(err)
			}
			if img, ins := fake.CD(); img != iso || !ins {
				t.Fatalf("CD = %q inserted=%t", img, ins)
			}
			if err := c.InsertMedia(ctx, iso); err != nil { // same image: left alone
				t.Fatal(err)
			}
			if err := c.EjectMedia(ctx); err != nil {
				t.Fatal(err)
			}
			if img, ins := fake.CD(); img != "" || ins {
				t.Fatalf("after eject CD = %q inserted=%t", img, ins)
			}
			if err := c.EjectMedia(ctx); err != nil {
				t.Fatal(err)
			}

			info, err := c.Probe(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info.Vendor != "Contoso" || info.Model != "3500" || info.System != "437XR1138R2" || len(info.Capabilities) != 7 {
				t.Fatalf("probe: %+v", info)
			}
			checkAuth(t, fake, tc.auth)
		})
	}
}

// checkBootPatches: only Boot with the needed fields, and If-Match on every PATCH.
func checkBootPatches(t *testing.T, fake *bmctest.Redfish, strict bool) {
	t.Helper()
	n := 0
	for _, r := range fake.Requests() {
		if r.Method != "PATCH" || r.Path != bmctest.RedfishSystem {
			continue
		}
		n++
		if r.IfMatch == "" {
			t.Errorf("PATCH without If-Match: %s", r.Body)
		}
		if strict && strings.Contains(r.Body, "BootSourceOverrideMode") {
			t.Errorf("PATCH sends a field this BMC does not have: %s", r.Body)
		}
		for _, f := range []string{"BootOrder", "UefiTargetBootSourceOverride", "AllowableValues"} {
			if strings.Contains(r.Body, f) {
				t.Errorf("PATCH sends %s: %s", f, r.Body)
			}
		}
	}
	if n != 2 {
		t.Errorf("%d boot PATCHes, want 2", n)
	}
}

func checkAuth(t *testing.T, fake *bmctest.Redfish, auth string) {
	t.Helper()
	want := "session"
	if auth == "basic" {
		want = "basic"
	}
	for _, r := range fake.Requests() {
		if r.Path == "/redfish/v1" || r.Path == "/redfish/v1/SessionService/Sessions" {
			continue
		}
		if r.Auth != want {
			t.Fatalf("%s %s authenticated by %s, want %s", r.Method, r.Path, r.Auth, want)
		}
	}
}

func TestRedfishWrongCredentials(t *testing.T) {
	for _, auth := range []string{"session", "basic"} {
		t.Run(auth, func(t *testing.T) {
			fake := bmctest.NewRedfish(t, bmctest.RedfishOptions{})
			c := redfishClient(t, fake, auth, func(c *bmc.Config) { c.Password = "s3cret-wrong" })
			_, err := c.PowerState(context.Background())
			if !errors.Is(err, bmc.ErrAuth) {
				t.Fatalf("err = %v, want ErrAuth", err)
			}
			msg := err.Error()
			if strings.Contains(msg, "s3cret-wrong") || !strings.Contains(msg, "node master-0 (redfish): power-state") || strings.Contains(msg, "attempts") {
				t.Fatalf("error text: %s", msg)
			}
			t.Log(msg)
		})
	}
}

func TestRedfishSystemSelection(t *testing.T) {
	fake := bmctest.NewRedfish(t, bmctest.RedfishOptions{})
	c := redfishClient(t, fake, "", func(c *bmc.Config) { c.SystemID = "437XR1138R2" })
	if _, err := c.PowerState(context.Background()); err != nil {
		t.Fatal(err)
	}
	c = redfishClient(t, fake, "", func(c *bmc.Config) { c.SystemID = "nope" })
	_, err := c.PowerState(context.Background())
	if !errors.Is(err, bmc.ErrNotFound) || !strings.Contains(err.Error(), `system "nope": the BMC has [437XR1138R2]`) {
		t.Fatalf("err = %v", err)
	}
}

func TestRedfishBootTargetNotAllowed(t *testing.T) {
	fake := bmctest.NewRedfish(t, bmctest.RedfishOptions{})
	c := redfishClient(t, fake, "")
	// All three devices are allowed by the mockup; an unknown device is refused before any PATCH.
	err := c.SetBootDevice(context.Background(), bmc.BootOptions{Device: "floppy"})
	if !errors.Is(err, bmc.ErrInvalid) {
		t.Fatalf("err = %v", err)
	}
}

func TestRedfishStaleETagIsRetried(t *testing.T) {
	fake := bmctest.NewRedfish(t, bmctest.RedfishOptions{Strict: true})
	c := redfishClient(t, fake, "", func(c *bmc.Config) { c.Attempts = 1 })
	fake.RejectNextPatch(412)
	if err := c.SetBootDevice(context.Background(), bmc.BootOptions{Device: bmc.BootCD}); err != nil {
		t.Fatal(err)
	}
	if target, _, _ := fake.Boot(); target != "Cd" {
		t.Fatalf("target %s", target)
	}
	var etags []string
	for _, r := range fake.Requests() {
		if r.Method == "PATCH" {
			etags = append(etags, r.IfMatch)
		}
	}
	if len(etags) != 2 || etags[0] == etags[1] {
		t.Fatalf("PATCH If-Match values %v: want two, the second with the fresh ETag", etags)
	}
}

func TestRedfishSessionLogoutAndBasicFallback(t *testing.T) {
	fake := bmctest.NewRedfish(t, bmctest.RedfishOptions{})
	c := redfishClient(t, fake, "")
	if _, err := c.PowerState(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fake.Sessions() != 1 {
		t.Fatalf("%d sessions", fake.Sessions())
	}
	fake.ExpireSessions()
	if st, err := c.PowerState(context.Background()); err != nil || st != bmc.PowerOn {
		t.Fatalf("after the session expired: %v, %v", st, err)
	}
	if fake.Sessions() != 1 {
		t.Fatalf("%d sessions after logging in again", fake.Sessions())
	}
	_ = c.Close()
	if fake.Sessions() != 0 {
		t.Fatalf("%d sessions after Close", fake.Sessions())
	}

	fake = bmctest.NewRedfish(t, bmctest.RedfishOptions{NoSessions: true})
	c = redfishClient(t, fake, "")
	if _, err := c.PowerState(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkAuth(t, fake, "basic")
	c = redfishClient(t, fake, "session")
	if _, err := c.PowerState(context.Background()); err == nil {
		t.Fatal("auth session against a BMC without sessions worked")
	}
}

// TestRedfishTransitionsAreLeftAlone: power on and a graceful power off are safe to repeat
// while the node is on its way there (a second push of the button would undo the first).
func TestRedfishTransitionsAreLeftAlone(t *testing.T) {
	fake := bmctest.NewRedfish(t, bmctest.RedfishOptions{ResetTypes: []string{"PushPowerButton", "ForceOff"}})
	c := redfishClient(t, fake, "")
	ctx := context.Background()
	fake.SetPowerState("PoweringOn")
	if err := c.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
	fake.SetPowerState("PoweringOff")
	if err := c.PowerOff(ctx, false); err != nil {
		t.Fatal(err)
	}
	if got := fake.Resets(); len(got) != 0 {
		t.Fatalf("resets %v, want none", got)
	}
	if err := c.PowerOff(ctx, true); err != nil {
		t.Fatal(err)
	}
	if got := fake.Resets(); strings.Join(got, ",") != "ForceOff" {
		t.Fatalf("resets %v, want ForceOff", got)
	}
}
