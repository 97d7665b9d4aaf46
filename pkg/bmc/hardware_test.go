package bmc_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/cn2-appliance/cn2-appliance/pkg/bmc"
	"github.com/cn2-appliance/cn2-appliance/pkg/bmc/bmctest"
	"github.com/digitalocean/go-libvirt"
)

func TestRedfishHardware(t *testing.T) {
	drives := []bmctest.RedfishDrive{{Name: "Disk.Bay.0", CapacityBytes: 480e9}, {Name: "Disk.Bay.1", CapacityBytes: 64e9}}
	for _, simple := range []bool{false, true} {
		t.Run(fmt.Sprint("simpleStorage=", simple), func(t *testing.T) {
			fake := bmctest.NewRedfish(t, bmctest.RedfishOptions{})
			fake.SetHardware(bmctest.RedfishHardware{LogicalProcessors: 12, MemoryGiB: 24, Drives: drives, SimpleStorage: simple})
			hw, err := redfishClient(t, fake, "").Hardware(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			want := "Redfish ProcessorSummary, MemorySummary, Storage"
			if simple {
				want = "Redfish ProcessorSummary, MemorySummary, SimpleStorage"
			}
			if hw.CPUs != 12 || hw.MemoryBytes != 24<<30 || len(hw.Disks) != 2 || hw.Disks[0] != (bmc.HardwareDisk{Name: "Disk.Bay.0", SizeBytes: 480e9}) ||
				hw.Disks[1].SizeBytes != 64e9 || hw.Source != want {
				t.Errorf("hardware %+v", hw)
			}
		})
	}
	// The DMTF mockup as it is: 16 logical processors, 96 GiB, and a SimpleStorage link to
	// nothing: CPUs and memory are known, the disks not.
	fake := bmctest.NewRedfish(t, bmctest.RedfishOptions{})
	hw, err := redfishClient(t, fake, "").Hardware(context.Background())
	if err != nil || hw.CPUs != 16 || hw.MemoryBytes != 96<<30 || hw.Disks != nil || !strings.Contains(hw.Source, "SimpleStorage unreadable") {
		t.Errorf("mockup: %+v %v", hw, err)
	}
}

// TestLibvirtHardware defines a domain in libvirtd's test driver with two volumes and a CD,
// and reads its vCPUs, memory and disk sizes.
func TestLibvirtHardware(t *testing.T) {
	lv := bmctest.StartLibvirtd(t)
	u, _ := url.Parse(lv.URI)
	l, err := libvirt.ConnectToURI(u)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Disconnect()
	pool, err := l.StoragePoolLookupByName("default-pool")
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, v := range []struct {
		name string
		size int64
	}{{"dk-hw-0.img", 12e9}, {"dk-hw-1.img", 2e9}} {
		vol, err := l.StorageVolCreateXML(pool, fmt.Sprintf("<volume><name>%s</name><capacity unit='bytes'>%d</capacity></volume>", v.name, v.size), 0)
		if err != nil {
			t.Fatal(err)
		}
		p, err := l.StorageVolGetPath(vol)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	x := fmt.Sprintf(`<domain type='test'><name>dk-hw</name><memory unit='GiB'>12</memory><vcpu>6</vcpu>
<os><type>hvm</type><boot dev='hd'/></os><devices>
<disk type='file' device='disk'><source file='%s'/><target dev='vda' bus='virtio'/></disk>
<disk type='volume' device='disk'><source pool='default-pool' volume='dk-hw-1.img'/><target dev='vdb' bus='virtio'/></disk>
<disk type='file' device='cdrom'><target dev='sda' bus='sata'/><readonly/></disk>
</devices></domain>`, paths[0])
	if _, err := l.DomainDefineXML(x); err != nil {
		t.Fatal(err)
	}
	hw, err := libvirtClient(t, lv, "dk-hw").Hardware(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []bmc.HardwareDisk{{Name: "vda", SizeBytes: 12e9}, {Name: "vdb", SizeBytes: 2e9}, {Name: "sda", Removable: true}}
	if hw.CPUs != 6 || hw.MemoryBytes != 12<<30 || fmt.Sprint(hw.Disks) != fmt.Sprint(want) {
		t.Errorf("hardware %+v, want 6 vCPUs, 12 GiB, %v", hw, want)
	}
}
