package labsim

import (
	"context"
	"fmt"
	"hash/fnv"
	mrand "math/rand/v2"

	"github.com/cn2-appliance/cn2-appliance/internal/aisim"
	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
	"github.com/cn2-appliance/cn2-appliance/pkg/bmc"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
)

// Disk slots every simulated node has. The names a lab file uses (by-path from the slot,
// by-id and serial from the node's name) do not depend on the seed; sizes and leftovers do.
const (
	// SlotInstall is the disk the example lab installs to: 120 GB, blank.
	SlotInstall = "/dev/disk/by-path/pci-0000:00:05.0-scsi-0:0:0:0"
	// SlotData is a big SSD that held an earlier install (bootable, partitions left) on some
	// nodes: the disk the installer picks by itself, since it prefers bootable disks.
	SlotData = "/dev/disk/by-path/pci-0000:00:06.0-scsi-0:0:0:0"
	// SlotBoot is a 32 GB SATADOM, too small for any role.
	SlotBoot = "/dev/disk/by-path/pci-0000:00:07.0-ata-1"
	// SlotCD is the BMC's virtual CD with the discovery ISO: the installation media.
	SlotCD = "/dev/disk/by-path/pci-0000:00:1f.2-ata-2"
)

// DiskWWN is the World Wide Name of a node's disk in a slot ("sda", "sdb", "sdc"): what its
// /dev/disk/by-id/wwn-... name carries.
func DiskWWN(node, disk string) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%s", node, disk)
	return fmt.Sprintf("0x5000c500%08x", uint32(h.Sum64()))
}

// DiskSerial is the serial number of a node's disk.
func DiskSerial(node, disk string) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "%s/%s", node, disk)
	return fmt.Sprintf("S4EN%08X", h.Sum32())
}

// NodeHardware is a node's hardware as its discovery agent reports it: CPUs and memory above
// its role's minimums, and four disks (install, data, a too-small one, the virtual CD). The
// seed chooses the data disk's size and whether it holds a leftover install.
func NodeHardware(n config.Node, seed uint64) aisim.Hardware {
	h := fnv.New64a()
	fmt.Fprint(h, n.Name)
	rng := mrand.New(mrand.NewPCG(seed, h.Sum64()))
	cpus, mem := 8, int64(32)<<30
	if n.Role == config.RoleWorker {
		cpus, mem = 16, 64<<30
	}
	disk := func(name, slot, driveType string, size int64) ai.Disk {
		d := ai.Disk{Name: name, ByPath: slot, DriveType: driveType, SizeBytes: size, Vendor: "ATA", Model: "QEMU HARDDISK"}
		if driveType != "ODD" {
			d.ByID = "/dev/disk/by-id/wwn-" + DiskWWN(n.Name, name)
			d.WWN = DiskWWN(n.Name, name)
			d.Serial = DiskSerial(n.Name, name)
		}
		return d
	}
	data := disk("sdb", SlotData, "SSD", []int64{480e9, 960e9, 1920e9}[rng.IntN(3)])
	if rng.IntN(2) == 0 {
		data.Bootable, data.PartitionTypes = true, "vfat,xfs,xfs" // an earlier RHCOS install
		if n.Role == config.RoleWorker {
			data.PartitionTypes = "LVM2_member" // an earlier storage cluster
		}
	}
	cd := disk("sr0", SlotCD, "ODD", 1_254_000_000)
	cd.Removable, cd.Bootable, cd.PartitionTypes, cd.Model = true, true, "iso9660", "Virtual CDROM"
	return aisim.Hardware{CPUs: cpus, MemoryBytes: mem, Disks: []ai.Disk{
		disk("sda", SlotInstall, "HDD", 120e9),
		data,
		disk("sdc", SlotBoot, "SSD", 32e9),
		cd,
	}}
}

// Hardware is the machine as its simulated BMC describes it (as a Redfish BMC does: CPUs,
// memory, drives and their sizes), for the doctor's check before boot.
func (p *Power) Hardware(ctx context.Context) (bmc.Hardware, error) {
	m := p.machine()
	hw := bmc.Hardware{CPUs: m.CPUs, MemoryBytes: m.MemoryBytes, Source: "simulated BMC"}
	for _, d := range m.Disks {
		hw.Disks = append(hw.Disks, bmc.HardwareDisk{Name: d.Name, SizeBytes: d.SizeBytes, Removable: d.Removable})
	}
	return hw, nil
}
