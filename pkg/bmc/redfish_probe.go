package bmc

import (
	"context"
	"fmt"

	"github.com/stmcginnis/gofish/schemas"
)

// Probe reports the system's maker and model, the manager's firmware, what works, and what
// the BMC advertises: reset types, boot targets, durations and modes, HTTP boot, where the
// virtual CD is and how an insert is sent. The fallbacks that the advertisements imply are
// taken (and logged) here, so the list shows every fallback in effect; those learnt from a
// refusal appear once a call met it.
func (d *redfishDriver) Probe(ctx context.Context) (Info, error) {
	sys, err := d.system(ctx)
	if err != nil {
		return Info{}, err
	}
	info := Info{Vendor: sys.Manufacturer, Model: sys.Model, System: sys.ID,
		Capabilities: []Capability{CapPowerState, CapProbe}, Auth: d.auth}
	if managers, err := sys.ManagedBy(); err == nil && len(managers) > 0 {
		info.Firmware = managers[0].FirmwareVersion
	}
	if types, err := sys.GetSupportedResetTypes(); err == nil {
		for _, t := range types {
			info.ResetTypes = append(info.ResetTypes, string(t))
		}
		if _, ok := pick(types, []schemas.ResetType{schemas.OnResetType, schemas.ForceOnResetType}); ok {
			info.Capabilities = append(info.Capabilities, CapPowerOn)
		}
		if _, ok := pick(types, []schemas.ResetType{schemas.ForceOffResetType, schemas.GracefulShutdownResetType}); ok {
			info.Capabilities = append(info.Capabilities, CapPowerOff, CapPowerCycle)
		}
	}
	ads := parseBoot(sys)
	info.BootTargets, info.BootEnabled, info.BootModes = ads.Targets, ads.Enabled, ads.modes()
	info.OneTimeBoot, info.HTTPBoot = d.oneTime(ads), ads.httpBoot()
	if !info.OneTimeBoot {
		d.take(fallbackOnceRefused, "the system allows BootSourceOverrideEnabled %v, not Once: one-time boots are set Continuous, and stay until the next boot device is set", ads.Enabled)
	}
	if sys.Boot.BootSourceOverrideTarget != "" || len(ads.Targets) > 0 {
		info.Capabilities = append(info.Capabilities, CapBootDevice)
	}
	_, _ = d.cdTarget(ctx, ads)
	if m, err := d.cd(ctx); err == nil {
		info.Capabilities = append(info.Capabilities, CapVirtualMedia)
		info.Media = MediaInfo{Location: m.location, Resource: m.path, Method: "action"}
		if m.insert == "" {
			info.Media.Method = "PATCH"
			d.take(fallbackMediaPatch, mediaPatchWhy, m.path)
		}
		if p, err := d.plan(ctx, m, "http://image.iso"); err == nil {
			info.Media.Parameters = p.parameters()
		} else {
			info.Media.Parameters = []string{fmt.Sprintf("(%v)", err)}
		}
	}
	info.Fallbacks = d.taken()
	return info, nil
}
