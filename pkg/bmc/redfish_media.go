package bmc

import (
	"context"
	"fmt"
	"slices"

	"github.com/stmcginnis/gofish/schemas"
)

// cd finds a VirtualMedia that takes a CD or DVD image: under the System (the newer layout)
// or under the Manager that manages it (the older one).
func (d *redfishDriver) cd(ctx context.Context) (*schemas.VirtualMedia, error) {
	sys, err := d.system(ctx)
	if err != nil {
		return nil, err
	}
	media, err := sys.VirtualMedia()
	if err != nil {
		return nil, fmt.Errorf("list the system's virtual media: %w", redfishErr(err))
	}
	if len(media) == 0 {
		managers, err := sys.ManagedBy()
		if err != nil {
			return nil, fmt.Errorf("list the system's managers: %w", redfishErr(err))
		}
		for _, m := range managers {
			mm, err := m.VirtualMedia()
			if err != nil {
				return nil, fmt.Errorf("list manager %s's virtual media: %w", m.ID, redfishErr(err))
			}
			media = append(media, mm...)
		}
	}
	for _, m := range media {
		if slices.Contains(m.MediaTypes, schemas.CDVirtualMediaType) || slices.Contains(m.MediaTypes, schemas.DVDVirtualMediaType) {
			return m, nil
		}
	}
	return nil, fmt.Errorf("%w: no CD/DVD virtual media under the system or its managers", ErrNotSupported)
}

func inserted(m *schemas.VirtualMedia) bool { return m.Inserted != nil && *m.Inserted }

// InsertMedia attaches image, ejecting another image first; the same image already inserted
// is left alone. Uses the InsertMedia action, or a PATCH where the BMC has no action.
func (d *redfishDriver) InsertMedia(ctx context.Context, image string) error {
	m, err := d.cd(ctx)
	if err != nil {
		return err
	}
	if inserted(m) && m.Image == image {
		return nil
	}
	if inserted(m) || m.Image != "" {
		if _, err := m.EjectMedia(); err != nil {
			return fmt.Errorf("eject %s from %s: %w", m.Image, m.ID, redfishErr(err))
		}
		api, err := d.api(ctx)
		if err != nil {
			return err
		}
		fresh, err := schemas.GetVirtualMedia(api, m.ODataID) // a fresh ETag
		if err != nil {
			return fmt.Errorf("read %s: %w", m.ODataID, redfishErr(err))
		}
		m = fresh
	}
	yes := true
	if _, err := m.InsertMedia(&schemas.VirtualMediaInsertMediaParameters{Image: image, Inserted: &yes, WriteProtected: &yes}); err != nil {
		return fmt.Errorf("insert into %s: %w", m.ID, redfishErr(err))
	}
	return nil
}

// EjectMedia detaches whatever the CD holds.
func (d *redfishDriver) EjectMedia(ctx context.Context) error {
	m, err := d.cd(ctx)
	if err != nil {
		return err
	}
	if !inserted(m) && m.Image == "" {
		return nil
	}
	if _, err := m.EjectMedia(); err != nil {
		return fmt.Errorf("eject %s: %w", m.ID, redfishErr(err))
	}
	return nil
}

// Probe reports the system's maker and model, the manager's firmware, and what works.
func (d *redfishDriver) Probe(ctx context.Context) (Info, error) {
	sys, err := d.system(ctx)
	if err != nil {
		return Info{}, err
	}
	info := Info{Vendor: sys.Manufacturer, Model: sys.Model, System: sys.ID,
		Capabilities: []Capability{CapPowerState, CapProbe}}
	if managers, err := sys.ManagedBy(); err == nil && len(managers) > 0 {
		info.Firmware = managers[0].FirmwareVersion
	}
	if types, err := sys.GetSupportedResetTypes(); err == nil {
		if _, ok := pick(types, []schemas.ResetType{schemas.OnResetType, schemas.ForceOnResetType}); ok {
			info.Capabilities = append(info.Capabilities, CapPowerOn)
		}
		if _, ok := pick(types, []schemas.ResetType{schemas.ForceOffResetType, schemas.GracefulShutdownResetType}); ok {
			info.Capabilities = append(info.Capabilities, CapPowerOff, CapPowerCycle)
		}
	}
	if sys.Boot.BootSourceOverrideTarget != "" || len(sys.Boot.AllowableBootSourceOverrideTargetValues) > 0 {
		info.Capabilities = append(info.Capabilities, CapBootDevice)
	}
	if _, err := d.cd(ctx); err == nil {
		info.Capabilities = append(info.Capabilities, CapVirtualMedia)
	}
	return info, nil
}
