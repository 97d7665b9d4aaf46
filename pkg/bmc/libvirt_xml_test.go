package bmc

import (
	"errors"
	"strings"
	"testing"
)

const q35Domain = `<domain type='qemu'>
  <name>n</name>
  <os firmware='efi'>
    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
    <boot dev='hd'/>
    <bios useserial='yes'/>
  </os>
  <devices>
    <disk type='file' device='disk'>
      <source file='/d.qcow2'/>
      <target dev='vda' bus='virtio'/>
      <boot order='1'/>
    </disk>
    <interface type='bridge'>
      <source bridge='br0'/>
      <boot order='2'/>
    </interface>
  </devices>
</domain>`

func TestSetBootOrder(t *testing.T) {
	x, err := setBootOrder(q35Domain, BootPXE)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(x, "order=") || !strings.Contains(x, "<bios useserial='yes'/>\n    <boot dev='network'/>\n    <boot dev='hd'/>\n  </os>") {
		t.Fatalf("got:\n%s", x)
	}
	if !domainIsUEFI(x) {
		t.Fatal("firmware='efi' not seen as UEFI")
	}
	if _, err := setBootOrder("<domain/>", BootPXE); !errors.Is(err, ErrNotSupported) {
		t.Fatalf("no <os>: %v", err)
	}
}

func TestSetCDROM(t *testing.T) {
	x, err := setCDROM(q35Domain, "https://h.example/a b.iso?x=1&y=2")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<disk type='network' device='cdrom'>", "<source protocol='https' name='/a%20b.iso?x=1&amp;y=2'>",
		"<host name='h.example' port='443'/>", "<target dev='sdc' bus='sata'/>"} {
		if !strings.Contains(x, want) {
			t.Fatalf("lacks %q:\n%s", want, x)
		}
	}
	x, err = setCDROM(x, "")
	if err != nil || strings.Contains(x, "<source protocol") || !strings.Contains(x, "<disk type='file' device='cdrom'>") {
		t.Fatalf("eject: %v\n%s", err, x)
	}
	if y, err := setCDROM(q35Domain, ""); err != nil || y != q35Domain {
		t.Fatalf("eject without a drive changed the domain: %v", err)
	}
	if _, err := setCDROM(q35Domain, "relative.iso"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("relative path: %v", err)
	}
}

// FuzzDomainXML: the domain definition comes from libvirtd; editing it must never panic, and
// an edit that succeeds keeps the document's closing tag.
func FuzzDomainXML(f *testing.F) {
	f.Add(q35Domain, "http://h/x.iso")
	f.Add("<domain><os></os><devices></devices></domain>", "")
	f.Add("<os><boot dev='hd'/></os><disk device='cdrom'></disk>", "/x.iso")
	f.Fuzz(func(t *testing.T, x, image string) {
		for _, dev := range []BootDevice{BootPXE, BootCD, BootDisk} {
			if y, err := setBootOrder(x, dev); err == nil && !strings.Contains(y, "</os>") {
				t.Fatalf("lost </os>:\n%s", y)
			}
		}
		_, _ = setCDROM(x, image)
		_ = domainIsUEFI(x)
	})
}
