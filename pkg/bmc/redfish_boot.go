package bmc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/stmcginnis/gofish/schemas"
)

// bootAds is what a system's Boot object advertises.
type bootAds struct {
	Targets    []string `json:"BootSourceOverrideTarget@Redfish.AllowableValues"`
	Enabled    []string `json:"BootSourceOverrideEnabled@Redfish.AllowableValues"`
	Modes      []string `json:"BootSourceOverrideMode@Redfish.AllowableValues"`
	Mode       *string  `json:"BootSourceOverrideMode"`
	HTTPURI    *string  `json:"HttpBootUri"`
	hasMode    bool     // the property is there (even null)
	hasHTTPURI bool
}

func parseBoot(sys *schemas.ComputerSystem) bootAds {
	var doc struct {
		Boot map[string]json.RawMessage
	}
	var b bootAds
	if json.Unmarshal(sys.RawData, &doc) != nil || doc.Boot == nil {
		return b
	}
	raw, _ := json.Marshal(doc.Boot)
	_ = json.Unmarshal(raw, &b)
	_, b.hasMode = doc.Boot["BootSourceOverrideMode"]
	_, b.hasHTTPURI = doc.Boot["HttpBootUri"]
	return b
}

// modes is the firmware modes the system can be asked for: the advertised ones, else both
// when it has the property, else none.
func (b bootAds) modes() []string {
	switch {
	case !b.hasMode:
		return nil
	case len(b.Modes) > 0:
		return b.Modes
	}
	return []string{"UEFI", "Legacy"}
}

func (b bootAds) allows(target string) bool {
	return len(b.Targets) == 0 || slices.Contains(b.Targets, target)
}

// httpBoot: UEFI HTTP boot needs UefiHttp advertised (not merely not forbidden) and the
// HttpBootUri property to carry the URI.
func (b bootAds) httpBoot() bool { return slices.Contains(b.Targets, "UefiHttp") && b.hasHTTPURI }

// oneTime says whether a one-time override can be sent as Once.
func (d *redfishDriver) oneTime(b bootAds) bool {
	if d.has(fallbackOnceRefused) {
		return false
	}
	return len(b.Enabled) == 0 || slices.Contains(b.Enabled, "Once") || !slices.Contains(b.Enabled, "Continuous")
}

// SetBootDevice PATCHes the system's Boot override with only the fields it needs: target and
// enabled, plus the mode when one is asked for and differs, plus HttpBootUri for http. What
// the system advertises decides (see bootPatch); a 400 that names Once is answered once with
// Continuous. The PATCH carries If-Match with the system's ETag when it has one; a 412 (the
// system changed in between) is answered by reading it again and trying once more.
func (d *redfishDriver) SetBootDevice(ctx context.Context, o BootOptions) error {
	var err error
	for try := 0; try < 3; try++ {
		var sys *schemas.ComputerSystem
		if sys, err = d.system(ctx); err != nil {
			return err
		}
		body, berr := d.bootPatch(ctx, sys, o)
		if berr != nil {
			return berr
		}
		err = d.patch(ctx, sys.ODataID, sys.GetETag(), map[string]any{"Boot": body})
		switch {
		case schemas.Is412PreconditionFailed(err):
			continue
		case body["BootSourceOverrideEnabled"] == "Once" && errors.Is(err, ErrInvalid) && strings.Contains(err.Error(), "Once"):
			d.take(fallbackOnceRefused, "the BMC answered 400 naming BootSourceOverrideEnabled Once: one-time boots are set Continuous, and stay until the next boot device is set")
			continue
		}
		break
	}
	if err != nil {
		return fmt.Errorf("set boot override: %w", err)
	}
	return nil
}

// bootPatch builds the Boot body:
//   - target: pxe Pxe, disk Hdd, http UefiHttp (with HttpBootUri), cd by cdTarget; one the
//     system does not allow is ErrNotSupported;
//   - enabled: Continuous when persistent; Once, or Continuous (a fallback, logged once) when
//     the system allows Continuous and not Once, or refused Once before;
//   - mode: only when asked; ErrNotSupported, with nothing sent, when the system has no
//     BootSourceOverrideMode or does not allow the mode, since setting the device alone
//     would boot in whatever mode the firmware is in.
func (d *redfishDriver) bootPatch(ctx context.Context, sys *schemas.ComputerSystem, o BootOptions) (map[string]any, error) {
	ads := parseBoot(sys)
	var target string
	switch o.Device {
	case BootPXE:
		target = "Pxe"
	case BootDisk:
		target = "Hdd"
	case BootCD:
		t, err := d.cdTarget(ctx, ads)
		if err != nil {
			return nil, err
		}
		target = t
	case BootHTTP:
		if !ads.httpBoot() {
			return nil, fmt.Errorf("%w: UEFI HTTP boot: the system allows targets %v and has %s HttpBootUri", ErrNotSupported, ads.Targets, map[bool]string{true: "a", false: "no"}[ads.hasHTTPURI])
		}
		target = "UefiHttp"
	default:
		return nil, fmt.Errorf("%w: redfish boot device %s", ErrNotSupported, o.Device)
	}
	if !ads.allows(target) {
		return nil, fmt.Errorf("%w: boot target %s, the system allows %v", ErrNotSupported, target, ads.Targets)
	}
	enabled := "Once"
	switch {
	case o.Persistent:
		enabled = "Continuous"
	case !d.oneTime(ads):
		d.take(fallbackOnceRefused, "the system allows BootSourceOverrideEnabled %v, not Once: one-time boots are set Continuous, and stay until the next boot device is set", ads.Enabled)
		enabled = "Continuous"
	}
	if len(ads.Enabled) > 0 && !slices.Contains(ads.Enabled, enabled) {
		return nil, fmt.Errorf("%w: BootSourceOverrideEnabled %s, the system allows %v", ErrNotSupported, enabled, ads.Enabled)
	}
	body := map[string]any{"BootSourceOverrideTarget": target, "BootSourceOverrideEnabled": enabled}
	if o.Device == BootHTTP {
		body["HttpBootUri"] = o.HTTPBootURI
	}
	if o.Mode != BootModeUnchanged {
		mode := map[BootMode]string{BootModeUEFI: "UEFI", BootModeLegacy: "Legacy"}[o.Mode]
		switch {
		case !ads.hasMode:
			return nil, fmt.Errorf("%w: boot mode %s: the system has no BootSourceOverrideMode, so its firmware mode cannot be set through Redfish; set it in the firmware setup and leave out the mode", ErrNotSupported, o.Mode)
		case !slices.Contains(ads.modes(), mode):
			return nil, fmt.Errorf("%w: boot mode %s, the system allows %v", ErrNotSupported, mode, ads.modes())
		case ads.Mode == nil || *ads.Mode != mode:
			body["BootSourceOverrideMode"] = mode
		}
	}
	return body, nil
}

// cdTarget maps cd to a boot target by what the system advertises: Cd when only Cd is
// allowed (or nothing is listed), UsbCd when only UsbCd is. When both are, UsbCd where the
// virtual media is attached as a USB device (Supermicro's: its BMC boots virtual media only
// as UsbCd, as Ironic also does), Cd elsewhere.
func (d *redfishDriver) cdTarget(_ context.Context, ads bootAds) (string, error) {
	hasCd, hasUsbCd := ads.allows("Cd"), slices.Contains(ads.Targets, "UsbCd")
	switch {
	case hasUsbCd && !hasCd:
		d.take(fallbackUsbCd, "the system allows UsbCd, not Cd: cd boots UsbCd")
		return "UsbCd", nil
	case hasUsbCd && usbMedia(d.vendor):
		d.take(fallbackUsbCd, "%s attaches virtual media as a USB CD: cd boots UsbCd, not Cd", d.vendor)
		return "UsbCd", nil
	case hasCd:
		return "Cd", nil
	}
	return "", fmt.Errorf("%w: boot from CD: the system allows %v", ErrNotSupported, ads.Targets)
}

// usbMedia: vendors whose virtual CD is a USB device.
func usbMedia(vendor string) bool {
	return strings.Contains(strings.ToLower(vendor), "supermicro")
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
