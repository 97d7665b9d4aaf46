package bmc

import (
	"context"
	"fmt"
	"slices"

	"github.com/stmcginnis/gofish/schemas"
)

var redfishTargets = map[BootDevice]schemas.BootSource{
	BootPXE:  schemas.PxeBootSource,
	BootCD:   schemas.CdBootSource,
	BootDisk: schemas.HddBootSource,
}

// SetBootDevice PATCHes the system's Boot override with only the fields it needs: target and
// enabled, plus the mode when one is asked for, the system has the property and it differs.
// The PATCH carries If-Match with the system's ETag when it has one; a 412 (the system
// changed in between) is answered by reading it again and trying once more.
func (d *redfishDriver) SetBootDevice(ctx context.Context, o BootOptions) error {
	var err error
	for try := 0; try < 2; try++ {
		var sys *schemas.ComputerSystem
		if sys, err = d.system(ctx); err != nil {
			return err
		}
		body, berr := bootPatch(sys.Boot, o)
		if berr != nil {
			return berr
		}
		if err = d.patch(ctx, sys.ODataID, sys.GetETag(), map[string]any{"Boot": body}); !schemas.Is412PreconditionFailed(err) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("set boot override: %w", err)
	}
	return nil
}

func bootPatch(cur schemas.Boot, o BootOptions) (map[string]any, error) {
	target, ok := redfishTargets[o.Device]
	if !ok {
		return nil, fmt.Errorf("%w: redfish boot device %s", ErrNotSupported, o.Device)
	}
	if allowed := cur.AllowableBootSourceOverrideTargetValues; len(allowed) > 0 && !slices.Contains(allowed, target) {
		return nil, fmt.Errorf("%w: boot target %s, the system allows %v", ErrNotSupported, target, allowed)
	}
	enabled := schemas.OnceBootSourceOverrideEnabled
	if o.Persistent {
		enabled = schemas.ContinuousBootSourceOverrideEnabled
	}
	body := map[string]any{"BootSourceOverrideTarget": target, "BootSourceOverrideEnabled": enabled}
	mode := map[BootMode]schemas.BootSourceOverrideMode{BootModeUEFI: schemas.UEFIBootSourceOverrideMode, BootModeLegacy: schemas.LegacyBootSourceOverrideMode}[o.Mode]
	if mode != "" && cur.BootSourceOverrideMode != "" && cur.BootSourceOverrideMode != mode {
		body["BootSourceOverrideMode"] = mode
	}
	return body, nil
}

// patch sends a PATCH with If-Match when an ETag is known.
func (d *redfishDriver) patch(ctx context.Context, uri, etag string, body any) error {
	api, err := d.api(ctx)
	if err != nil {
		return err
	}
	h := map[string]string{}
	if etag != "" {
		h["If-Match"] = etag
	}
	resp, err := api.PatchWithHeaders(uri, body, h)
	if err != nil {
		return redfishErr(err)
	}
	return schemas.CleanupHTTPResponse(resp)
}
