package bmc

import (
	"context"
	"log/slog"
)

// OpHardware reads the machine's hardware as the BMC describes it.
const OpHardware = "hardware"

// Hardware is a machine as its BMC describes it before it boots. Zero fields are unknown.
type Hardware struct {
	// CPUs counts logical processors (threads), as the installer's inventory does.
	CPUs        int            `json:"cpus,omitempty"`
	MemoryBytes int64          `json:"memoryBytes,omitempty"`
	Disks       []HardwareDisk `json:"disks,omitempty"`
	// Source says where the figures came from, e.g. "Redfish ProcessorSummary, MemorySummary, Storage".
	Source string `json:"source"`
}

// HardwareDisk is one disk as the BMC describes it.
type HardwareDisk struct {
	Name      string `json:"name"`
	SizeBytes int64  `json:"sizeBytes,omitempty"`
	// Removable marks media drives (CD, USB), which no role installs to.
	Removable bool `json:"removable,omitempty"`
}

// HardwareReader is a driver that can describe the machine.
type HardwareReader interface {
	Hardware(ctx context.Context) (Hardware, error)
}

// Hardware reads the machine's CPUs, memory and disks from the BMC; ErrNotSupported when its
// driver cannot (IPMI has no such inventory).
func (c *Client) Hardware(ctx context.Context) (Hardware, error) {
	var hw Hardware
	err := c.do(ctx, OpHardware, slog.LevelDebug, func(ctx context.Context) error {
		d, ok := c.drv.(HardwareReader)
		if !ok {
			return ErrNotSupported
		}
		h, err := d.Hardware(ctx)
		hw = h
		return err
	})
	return hw, err
}
