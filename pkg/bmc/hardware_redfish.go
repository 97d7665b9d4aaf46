package bmc

import (
	"context"
	"fmt"
	"strings"

	"github.com/stmcginnis/gofish/schemas"
)

var _ HardwareReader = (*redfishDriver)(nil)

// Hardware reads the system's ProcessorSummary and MemorySummary, and its drives from Storage
// (each controller's Drives), else from SimpleStorage (Devices).
func (d *redfishDriver) Hardware(ctx context.Context) (Hardware, error) {
	api, err := d.api(ctx)
	if err != nil {
		return Hardware{}, err
	}
	sys, err := schemas.GetComputerSystem(api, d.sysURI)
	if err != nil {
		return Hardware{}, fmt.Errorf("read system: %w", redfishErr(err))
	}
	var hw Hardware
	sources := []string{}
	p := sys.ProcessorSummary
	switch {
	case p.LogicalProcessorCount != nil && *p.LogicalProcessorCount > 0:
		hw.CPUs = int(*p.LogicalProcessorCount)
	case p.CoreCount != nil && *p.CoreCount > 0:
		hw.CPUs = int(*p.CoreCount)
	}
	if hw.CPUs > 0 {
		sources = append(sources, "ProcessorSummary")
	}
	if m := sys.MemorySummary.TotalSystemMemoryGiB; m != nil && *m > 0 {
		hw.MemoryBytes = int64(*m * (1 << 30))
		sources = append(sources, "MemorySummary")
	}
	// A BMC that links storage it cannot show (404s, half-implemented collections) still
	// told the CPUs and memory: the disks are then unknown, and Source says why.
	disks, where, err := redfishDisks(sys)
	hw.Disks = disks
	switch {
	case err != nil:
		sources = append(sources, where+" unreadable ("+err.Error()+")")
	case where != "":
		sources = append(sources, where)
	}
	hw.Source = "Redfish " + strings.Join(sources, ", ")
	return hw, nil
}

// redfishDisks lists the system's drives from Storage, else from SimpleStorage; where names
// the one used ("" when the system links neither).
func redfishDisks(sys *schemas.ComputerSystem) (disks []HardwareDisk, where string, err error) {
	storage, err := sys.Storage()
	if err != nil {
		return nil, "Storage", redfishErr(err)
	}
	if len(storage) > 0 {
		for _, s := range storage {
			drives, err := s.Drives()
			if err != nil {
				return nil, "Storage", redfishErr(err)
			}
			for _, dr := range drives {
				disk := HardwareDisk{Name: dr.Name}
				if dr.CapacityBytes != nil {
					disk.SizeBytes = int64(*dr.CapacityBytes)
				}
				disks = append(disks, disk)
			}
		}
		return disks, "Storage", nil
	}
	simple, err := sys.SimpleStorage()
	if err != nil {
		return nil, "SimpleStorage", redfishErr(err)
	}
	for _, s := range simple {
		for _, dev := range s.Devices {
			disk := HardwareDisk{Name: dev.Name}
			if dev.CapacityBytes != nil {
				disk.SizeBytes = int64(*dev.CapacityBytes)
			}
			disks = append(disks, disk)
		}
	}
	if len(simple) == 0 {
		return nil, "", nil
	}
	return disks, "SimpleStorage", nil
}
