package bmc

import (
	"context"
	"encoding/xml"
	"fmt"

	"github.com/digitalocean/go-libvirt"
)

var _ HardwareReader = (*libvirtDriver)(nil)

// domainDisks is the part of the domain XML that names the disks.
type domainDisks struct {
	Disks []struct {
		Device string `xml:"device,attr"`
		Source struct {
			File   string `xml:"file,attr"`
			Dev    string `xml:"dev,attr"`
			Volume string `xml:"volume,attr"`
			Pool   string `xml:"pool,attr"`
		} `xml:"source"`
		Target struct {
			Dev string `xml:"dev,attr"`
		} `xml:"target"`
	} `xml:"devices>disk"`
}

// Hardware reads the domain's vCPUs and memory, and its disks from the domain XML with their
// sizes from the storage volume behind each (or libvirt's block info of a running domain).
func (d *libvirtDriver) Hardware(ctx context.Context) (Hardware, error) {
	var hw Hardware
	err := d.call(ctx, func(l *libvirt.Libvirt) error {
		_, maxMem, _, vcpus, _, err := l.DomainGetInfo(d.dom)
		if err != nil {
			return fmt.Errorf("domain info: %w", err)
		}
		hw.CPUs, hw.MemoryBytes = int(vcpus), int64(maxMem)*1024
		x, err := l.DomainGetXMLDesc(d.dom, libvirt.DomainXMLInactive)
		if err != nil {
			return fmt.Errorf("domain XML: %w", err)
		}
		var doc domainDisks
		if err := xml.Unmarshal([]byte(x), &doc); err != nil {
			return fmt.Errorf("domain XML: %w", err)
		}
		for _, disk := range doc.Disks {
			hd := HardwareDisk{Name: disk.Target.Dev, Removable: disk.Device == "cdrom" || disk.Device == "floppy"}
			if disk.Device == "disk" {
				hd.SizeBytes = volumeSize(l, d.dom, disk.Source.File+disk.Source.Dev, disk.Source.Pool, disk.Source.Volume, disk.Target.Dev)
			}
			hw.Disks = append(hw.Disks, hd)
		}
		return nil
	})
	hw.Source = "libvirt domain XML (vCPUs, memory, disks)"
	return hw, err
}

// volumeSize is a disk's capacity in bytes, 0 when libvirt cannot tell.
func volumeSize(l *libvirt.Libvirt, dom libvirt.Domain, path, pool, volume, target string) int64 {
	var vol libvirt.StorageVol
	var err error
	switch {
	case pool != "" && volume != "":
		var p libvirt.StoragePool
		if p, err = l.StoragePoolLookupByName(pool); err == nil {
			vol, err = l.StorageVolLookupByName(p, volume)
		}
	case path != "":
		vol, err = l.StorageVolLookupByPath(path)
	default:
		err = fmt.Errorf("no source")
	}
	if err == nil {
		if _, capacity, _, err := l.StorageVolGetInfo(vol); err == nil {
			return int64(capacity)
		}
	}
	if _, capacity, _, err := l.DomainGetBlockInfo(dom, target, 0); err == nil {
		return int64(capacity)
	}
	return 0
}
