package labsim

import (
	"context"
	"reflect"
	"testing"

	"github.com/cn2-appliance/cn2-appliance/pkg/config"
)

// TestNodeHardware: the same seed gives the same machine; the names a lab file uses do not
// depend on the seed, the leftovers do; every machine has its installation media and a disk
// too small for any role; its BMC describes the same machine.
func TestNodeHardware(t *testing.T) {
	n := config.Node{Name: "worker-0", Role: config.RoleWorker}
	a, b := NodeHardware(n, 7), NodeHardware(n, 7)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gave two machines")
	}
	if a.CPUs < 2 || a.MemoryBytes < 8<<30 || len(a.Disks) != 4 {
		t.Fatalf("machine %+v", a)
	}
	if d := a.Disks[0]; d.ByPath != SlotInstall || d.ByID != "/dev/disk/by-id/wwn-"+DiskWWN("worker-0", "sda") || d.Serial != DiskSerial("worker-0", "sda") || d.SizeBytes != 120e9 {
		t.Errorf("install disk %+v", d)
	}
	if d := a.Disks[2]; d.SizeBytes >= 100e9 {
		t.Errorf("sdc %+v is not too small", d)
	}
	if d := a.Disks[3]; !d.Removable || d.PartitionTypes != "iso9660" {
		t.Errorf("sr0 %+v is not the installation media", d)
	}
	leftovers := map[bool]bool{}
	for seed := range uint64(16) {
		h := NodeHardware(n, seed)
		if !reflect.DeepEqual(h.Disks[0], a.Disks[0]) {
			t.Fatalf("seed %d moved the install disk: %+v", seed, h.Disks[0])
		}
		leftovers[h.Disks[1].Bootable] = true
	}
	if len(leftovers) != 2 {
		t.Error("no seed varies the leftover install on sdb")
	}
	p := &Power{Hostname: "worker-0", Machine: &a}
	hw, err := p.Hardware(context.Background())
	if err != nil || hw.CPUs != a.CPUs || hw.MemoryBytes != a.MemoryBytes || len(hw.Disks) != 4 || !hw.Disks[3].Removable || hw.Disks[1].SizeBytes != a.Disks[1].SizeBytes {
		t.Errorf("BMC view %+v %v", hw, err)
	}
}
