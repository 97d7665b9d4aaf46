package bmc_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/bmc"
	"github.com/cn2-appliance/cn2-appliance/pkg/bmc/bmctest"
	"github.com/digitalocean/go-libvirt"
)

const testDomainUUID = "6695eb01-f6a4-8304-79aa-97f2502e193f" // libvirt's built-in test domain

func libvirtClient(t *testing.T, lv *bmctest.Libvirtd, domain string) *bmc.Client {
	t.Helper()
	return testClient(t, bmc.Config{Node: "worker-0", Driver: bmc.DriverLibvirt, URI: lv.URI, Domain: domain,
		Timeout: 20 * time.Second, Attempts: 2, Backoff: 50 * time.Millisecond})
}

// peek is an independent go-libvirt connection to check what the driver did.
type peek struct {
	t *testing.T
	l *libvirt.Libvirt
}

func newPeek(t *testing.T, lv *bmctest.Libvirtd) *peek {
	u, _ := url.Parse(lv.URI)
	l, err := libvirt.ConnectToURI(u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Disconnect() })
	return &peek{t, l}
}

func (p *peek) domain() libvirt.Domain {
	d, err := p.l.DomainLookupByName("test")
	if err != nil {
		p.t.Fatal(err)
	}
	return d
}

func (p *peek) state() libvirt.DomainState {
	s, _, err := p.l.DomainGetState(p.domain(), 0)
	if err != nil {
		p.t.Fatal(err)
	}
	return libvirt.DomainState(s)
}

func (p *peek) xml() string {
	x, err := p.l.DomainGetXMLDesc(p.domain(), libvirt.DomainXMLInactive)
	if err != nil {
		p.t.Fatal(err)
	}
	return x
}

func TestLibvirtTestDriver(t *testing.T) {
	lv := bmctest.StartLibvirtd(t)
	p := newPeek(t, lv)
	c := libvirtClient(t, lv, "test")
	ctx := context.Background()

	if st, err := c.PowerState(ctx); err != nil || st != bmc.PowerOn {
		t.Fatalf("PowerState = %v, %v", st, err)
	}
	// Boot order.
	if err := c.SetBootDevice(ctx, bmc.BootOptions{Device: bmc.BootPXE}); err != nil {
		t.Fatal(err)
	}
	if x := p.xml(); !strings.Contains(x, "<boot dev='network'/>\n    <boot dev='hd'/>\n  </os>") {
		t.Fatalf("boot order not network, hd:\n%s", x)
	}
	// Power cycle: a new run of the domain (new id), from the new definition.
	id := p.domain().ID
	if err := c.PowerCycle(ctx); err != nil {
		t.Fatal(err)
	}
	if d := p.domain(); d.ID == id || p.state() != libvirt.DomainRunning {
		t.Fatalf("after cycle: id %d (was %d), state %d", d.ID, id, p.state())
	}
	if err := c.PowerOff(ctx, true); err != nil {
		t.Fatal(err)
	}
	if p.state() != libvirt.DomainShutoff {
		t.Fatalf("after destroy: state %d", p.state())
	}
	if st, err := c.PowerState(ctx); err != nil || st != bmc.PowerOff {
		t.Fatalf("PowerState = %v, %v", st, err)
	}
	if err := c.PowerCycle(ctx); err != nil { // off: starts it
		t.Fatal(err)
	}
	if err := c.PowerOff(ctx, false); err != nil { // ACPI shutdown; the test driver obeys at once
		t.Fatal(err)
	}
	if err := c.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
	if p.state() != libvirt.DomainRunning {
		t.Fatalf("after on: state %d", p.state())
	}
	if err := c.SetBootDevice(ctx, bmc.BootOptions{Device: bmc.BootDisk, Persistent: true}); err != nil {
		t.Fatal(err)
	}
	if x := p.xml(); strings.Contains(x, "network'/>") || !strings.Contains(x, "<boot dev='hd'/>") {
		t.Fatalf("boot order not hd:\n%s", x)
	}
	err := c.SetBootDevice(ctx, bmc.BootOptions{Device: bmc.BootPXE, Mode: bmc.BootModeUEFI})
	if !errors.Is(err, bmc.ErrNotSupported) {
		t.Fatalf("UEFI on a BIOS domain: %v", err)
	}

	// CD: URL, then a file, then eject.
	if err := c.InsertMedia(ctx, "http://172.16.0.1:8080/images/discovery.iso"); err != nil {
		t.Fatal(err)
	}
	x := p.xml()
	for _, want := range []string{"device='cdrom'", "protocol='http' name='/images/discovery.iso'", "<host name='172.16.0.1' port='8080'/>", "<readonly/>"} {
		if !strings.Contains(x, want) {
			t.Fatalf("cdrom lacks %q:\n%s", want, x)
		}
	}
	if err := c.InsertMedia(ctx, "/var/lib/libvirt/images/discovery.iso"); err != nil {
		t.Fatal(err)
	}
	if x := p.xml(); strings.Count(x, "device='cdrom'") != 1 || !strings.Contains(x, "<source file='/var/lib/libvirt/images/discovery.iso'/>") {
		t.Fatalf("cdrom not the file:\n%s", x)
	}
	if err := c.SetBootDevice(ctx, bmc.BootOptions{Device: bmc.BootCD}); err != nil {
		t.Fatal(err)
	}
	if x := p.xml(); !strings.Contains(x, "<boot dev='cdrom'/>") {
		t.Fatalf("boot order not cdrom:\n%s", x)
	}
	if err := c.EjectMedia(ctx); err != nil {
		t.Fatal(err)
	}
	if x := p.xml(); !strings.Contains(x, "device='cdrom'") || strings.Contains(x, "discovery.iso") {
		t.Fatalf("cdrom not empty:\n%s", x)
	}

	info, err := c.Probe(ctx)
	if err != nil || info.Model != "TEST" || len(info.Capabilities) != 7 {
		t.Fatalf("probe %+v, %v", info, err)
	}

	// By UUID; and a domain that does not exist.
	if st, err := libvirtClient(t, lv, testDomainUUID).PowerState(ctx); err != nil || st != bmc.PowerOn {
		t.Fatalf("by UUID: %v, %v", st, err)
	}
	_, err = libvirtClient(t, lv, "nope").PowerState(ctx)
	if !errors.Is(err, bmc.ErrNotFound) || !strings.Contains(err.Error(), `node worker-0 (libvirt): power-state: connect: find domain "nope"`) {
		t.Fatalf("missing domain: %v", err)
	}
}
