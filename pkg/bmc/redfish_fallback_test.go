package bmc_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cn2-appliance/cn2-appliance/pkg/bmc"
	"github.com/cn2-appliance/cn2-appliance/pkg/bmc/bmctest"
)

func mediaPosts(fake *bmctest.Redfish, action string) []string {
	var bodies []string
	for _, r := range fake.Requests() {
		if r.Method == "POST" && strings.HasSuffix(r.Path, "/Actions/VirtualMedia."+action) {
			bodies = append(bodies, r.Body)
		}
	}
	return bodies
}

// TestRedfishInsertFallbackOrder: an InsertMedia that refuses Inserted/WriteProtected and
// then wants TransferProtocolType, with no ActionInfo to say so: the documented order is
// full body, without the flags, with the protocol; the next insert goes straight to it.
func TestRedfishInsertFallbackOrder(t *testing.T) {
	fake := bmctest.NewRedfish(t, bmctest.RedfishOptions{MediaUnderManager: true,
		RefuseMediaParams: []string{"Inserted", "WriteProtected"}, RequireMediaParams: []string{"TransferProtocolType"}})
	c, logs := loggedClient(t, redfishConfig(fake))
	ctx := context.Background()
	if err := c.InsertMedia(ctx, "https://172.16.0.1:8443/discovery.iso"); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{"Image":"https://172.16.0.1:8443/discovery.iso","Inserted":true,"WriteProtected":true}`,
		`{"Image":"https://172.16.0.1:8443/discovery.iso"}`,
		`{"Image":"https://172.16.0.1:8443/discovery.iso","TransferProtocolType":"HTTPS"}`,
	}
	if got := mediaPosts(fake, "InsertMedia"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("InsertMedia bodies:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if img, ins := fake.CD(); img != "https://172.16.0.1:8443/discovery.iso" || !ins || fake.CDTransferProtocol() != "HTTPS" {
		t.Fatalf("CD %q %t %q", img, ins, fake.CDTransferProtocol())
	}
	if err := c.InsertMedia(ctx, "http://172.16.0.1:8080/other.iso"); err != nil {
		t.Fatal(err)
	}
	posts := mediaPosts(fake, "InsertMedia")
	if len(posts) != 4 || posts[3] != `{"Image":"http://172.16.0.1:8080/other.iso","TransferProtocolType":"HTTP"}` {
		t.Fatalf("second insert: %v", posts)
	}
	for _, k := range []string{"insert-without-flags", "insert-transfer-protocol"} {
		if n := strings.Count(logs.String(), "fallback="+k); n != 1 {
			t.Errorf("fallback %s logged %d times", k, n)
		}
	}
}

// TestRedfishOnceRefusedByAnswer: a BMC that does not advertise its durations but answers 400
// to Once gets Continuous, and is remembered.
func TestRedfishOnceRefusedByAnswer(t *testing.T) {
	fake := bmctest.NewRedfish(t, bmctest.RedfishOptions{RefuseBootEnabled: []string{"Once"}})
	c, logs := loggedClient(t, redfishConfig(fake))
	ctx := context.Background()
	for _, dev := range []bmc.BootDevice{bmc.BootPXE, bmc.BootDisk} {
		if err := c.SetBootDevice(ctx, bmc.BootOptions{Device: dev}); err != nil {
			t.Fatal(err)
		}
	}
	if target, enabled, _ := fake.Boot(); target != "Hdd" || enabled != "Continuous" {
		t.Fatalf("boot %s %s", target, enabled)
	}
	var patches []string
	for _, r := range fake.Requests() {
		if r.Method == "PATCH" {
			patches = append(patches, r.Body)
		}
	}
	if len(patches) != 3 || !strings.Contains(patches[0], "Once") || strings.Contains(patches[2], "Once") {
		t.Fatalf("PATCHes %v: want Once refused once, then Continuous", patches)
	}
	if n := strings.Count(logs.String(), "fallback=once-as-continuous"); n != 1 {
		t.Fatalf("fallback logged %d times", n)
	}
	info, err := c.Probe(ctx)
	if err != nil || info.OneTimeBoot || len(info.Fallbacks) != 2 {
		t.Fatalf("probe %+v, %v", info, err)
	}
}

// TestRedfishSystemAddressForms: systemID matches Id, Name and @odata.id; an address with a
// system path selects the system.
func TestRedfishSystemAddressForms(t *testing.T) {
	fake := bmctest.NewRedfish(t, bmctest.RedfishOptions{})
	ctx := context.Background()
	for _, tc := range []struct {
		address, systemID string
		want              error
	}{
		{fake.URL, "437XR1138R2", nil},
		{fake.URL, "WebFrontEnd483", nil}, // the system's Name
		{fake.URL, "/redfish/v1/Systems/437XR1138R2", nil},
		{fake.URL + "/redfish/v1/Systems/437XR1138R2", "", nil},
		{fake.URL + "/redfish/v1/Systems/437XR1138R2/", "437XR1138R2", nil},
		{fake.URL + "/redfish/v1/", "", nil},
		{fake.URL + "/redfish/v1/Systems/nope", "", bmc.ErrNotFound},
		{fake.URL + "/redfish/v1/Systems/437XR1138R2", "other", bmc.ErrInvalid},
		{fake.URL + "/redfish/v1/Managers/BMC", "", bmc.ErrInvalid},
	} {
		cfg := redfishConfig(fake)
		cfg.Address, cfg.SystemID = tc.address, tc.systemID
		c, err := bmc.New(cfg)
		if err == nil {
			var st bmc.PowerState
			st, err = c.PowerState(ctx)
			if err == nil && st != bmc.PowerOn {
				t.Errorf("%s %q: power %s", tc.address, tc.systemID, st)
			}
			_ = c.Close()
		}
		if (tc.want == nil && err != nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("address %s systemID %q: %v, want %v", tc.address, tc.systemID, err, tc.want)
		}
	}
}

// TestRedfishHTTPBootNeedsAdvertisement: the mockup lists no UefiHttp: nothing is sent.
func TestRedfishHTTPBootNeedsAdvertisement(t *testing.T) {
	fake := bmctest.NewRedfish(t, bmctest.RedfishOptions{})
	c := redfishClient(t, fake, "")
	err := c.SetBootDevice(context.Background(), bmc.BootOptions{Device: bmc.BootHTTP, HTTPBootURI: "http://172.16.0.1/ipxe.efi"})
	if !errors.Is(err, bmc.ErrNotSupported) {
		t.Fatalf("err = %v", err)
	}
	for _, r := range fake.Requests() {
		if r.Method == "PATCH" {
			t.Fatalf("sent %s", r.Body)
		}
	}
}
