package bmc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/command/chassis"
	"github.com/bougou/go-ipmi/pkg/types"
)

// ipmiDriver drives an IPMI 2.0 BMC over RMCP+ (lanplus) with go-ipmi. The cipher suite is
// fixed by configuration (default 3): some BMCs, ipmi_sim among them, do not answer Get
// Channel Cipher Suites and reject suite 17.
type ipmiDriver struct {
	cfg Config
	c   *client.Client // nil until Open
}

var (
	_ PowerStater      = (*ipmiDriver)(nil)
	_ PowerOner        = (*ipmiDriver)(nil)
	_ PowerOffer       = (*ipmiDriver)(nil)
	_ PowerCycler      = (*ipmiDriver)(nil)
	_ BootDeviceSetter = (*ipmiDriver)(nil)
	_ Prober           = (*ipmiDriver)(nil)
)

func newIPMI(c Config) (*ipmiDriver, error) {
	if c.Address == "" || strings.Contains(c.Address, "/") {
		return nil, fmt.Errorf("%w: ipmi address %q: want a host name or address", ErrInvalid, c.Address)
	}
	if _, _, _, ok := types.GetCipherSuiteAlgorithms(types.CipherSuiteID(c.CipherSuite)); !ok {
		return nil, fmt.Errorf("%w: ipmi cipher suite %d is not one go-ipmi knows", ErrInvalid, c.CipherSuite)
	}
	return &ipmiDriver{cfg: c}, nil
}

func (d *ipmiDriver) Name() string { return DriverIPMI }

// Open opens an RMCP+ session with the configured cipher suite at administrator privilege.
// go-ipmi is told not to send a datagram again when its reply does not come (WithRetry(0)):
// the Client's retries are the only ones, and they never send a power cycle again blindly,
// whose reply may be what was lost.
func (d *ipmiDriver) Open(ctx context.Context) error {
	c, err := client.NewClient(d.cfg.Address, d.cfg.Port, d.cfg.Username, d.cfg.Password)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	timeout := 5 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, max(time.Until(dl)/3, 100*time.Millisecond))
	}
	c.WithInterface(client.InterfaceLanplus).
		WithCipherSuiteID(types.CipherSuiteID(d.cfg.CipherSuite)).
		WithMaxPrivilegeLevel(types.PrivilegeLevelAdministrator).
		WithTimeout(timeout).
		WithRetry(0)
	if err := c.Connect(ctx); err != nil {
		return fmt.Errorf("open a lanplus session with %s:%d as %q (cipher suite %d): %w",
			d.cfg.Address, d.cfg.Port, d.cfg.Username, d.cfg.CipherSuite, ipmiErr(err))
	}
	d.c = c
	return nil
}

// ipmiErr marks what the BMC's answer says about retrying: a refused login or privilege is
// ErrAuth; a completion code naming a bad or unsupported request is ErrInvalid or
// ErrNotSupported; "unspecified error" (0xff) is hopeless; "busy" means nothing was done.
// Other failures (timeouts above all) are left as they are: the request may have been
// carried out.
func ipmiErr(err error) error {
	if err == nil {
		return nil
	}
	if re, ok := types.IsResponseError(err); ok {
		switch re.CompletionCode() {
		case types.CodeInsufficientPrivilege:
			return fmt.Errorf("%w: %w", ErrAuth, err)
		case types.CodeInvalidCommand, types.CodeInvalidCommandForLUN, types.CodeNotSupported, types.CodeSubFnDisabled:
			return fmt.Errorf("%w: %w", ErrNotSupported, err)
		case types.CodeRequestDataTruncated, types.CodeRequestDataLengthInvalid, types.CodeRequestDataLengthLimitExceeded,
			types.CodeParameterOutOfRange, types.CodeRequestDataFieldInvalid, types.CodeIllegalCommand:
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		case types.CodeUnspecifiedError:
			return hopelessError{err}
		case types.CodeNodeBusy, types.CodeCannotProvideResponseSDRRInUpdate, types.CodeCannotProvideResponseFirmwareUpdate,
			types.CodeCannotProvideResponseBMCInitialize:
			return notSent(err)
		}
		return err
	}
	if errors.Is(err, client.ErrRAKPAuthentication) {
		return fmt.Errorf("%w: %w", ErrAuth, err)
	}
	msg := strings.ToLower(err.Error())
	for _, s := range []string{"unauthorized name", "invalid integrity check", "rakp", "invalid authentication", "insufficient resources for session", "invalid name"} {
		if strings.Contains(msg, s) && !strings.Contains(msg, "timeout") && !strings.Contains(msg, "i/o") {
			return fmt.Errorf("%w: %w", ErrAuth, err)
		}
	}
	return err
}

func (d *ipmiDriver) Close() error {
	if d.c == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := d.c.Close(ctx)
	d.c = nil
	return err
}

func (d *ipmiDriver) conn() (*client.Client, error) {
	if d.c == nil {
		return nil, errors.New("not connected")
	}
	return d.c, nil
}

func (d *ipmiDriver) PowerState(ctx context.Context) (PowerState, error) {
	c, err := d.conn()
	if err != nil {
		return PowerUnknown, err
	}
	st, err := c.GetChassisStatus(ctx)
	if err != nil {
		return PowerUnknown, fmt.Errorf("get chassis status: %w", ipmiErr(err))
	}
	if st.PowerIsOn {
		return PowerOn, nil
	}
	return PowerOff, nil
}

func (d *ipmiDriver) control(ctx context.Context, ctl chassis.ChassisControl, what string) error {
	c, err := d.conn()
	if err != nil {
		return err
	}
	if _, err := c.ChassisControl(ctx, ctl); err != nil {
		return fmt.Errorf("chassis control %s: %w", what, ipmiErr(err))
	}
	return nil
}

func (d *ipmiDriver) PowerOn(ctx context.Context) error {
	st, err := d.PowerState(ctx)
	if err != nil || st == PowerOn {
		return err
	}
	return d.control(ctx, chassis.ChassisControlPowerUp, "power up")
}

func (d *ipmiDriver) PowerOff(ctx context.Context, force bool) error {
	st, err := d.PowerState(ctx)
	if err != nil || st == PowerOff {
		return err
	}
	if force {
		return d.control(ctx, chassis.ChassisControlPowerDown, "power down")
	}
	return d.control(ctx, chassis.ChassisControlSoftShutdown, "soft shutdown")
}

// PowerCycle sends a power cycle to a running chassis and a power up to one that is off (the
// spec lets a BMC ignore a cycle while off).
func (d *ipmiDriver) PowerCycle(ctx context.Context) error {
	st, err := d.PowerState(ctx)
	if err != nil {
		return notSent(err)
	}
	if st == PowerOff {
		return d.control(ctx, chassis.ChassisControlPowerUp, "power up")
	}
	return d.control(ctx, chassis.ChassisControlPowerCycle, "power cycle")
}

var ipmiDevices = map[BootDevice]types.BootDeviceSelector{
	BootPXE:  types.BootDeviceSelectorForcePXE,
	BootCD:   types.BootDeviceSelectorForceCDROM,
	BootDisk: types.BootDeviceSelectorForceHardDrive,
}

// SetBootDevice sets the boot flags parameter (5): valid, persistent or next boot only, EFI or
// legacy (legacy when the mode is left unchanged, as IPMI has no "keep" value), and the device.
func (d *ipmiDriver) SetBootDevice(ctx context.Context, o BootOptions) error {
	if _, ok := ipmiDevices[o.Device]; !ok {
		return fmt.Errorf("%w: ipmi has no boot device %s", ErrNotSupported, o.Device)
	}
	c, err := d.conn()
	if err != nil {
		return err
	}
	if err := c.SetSystemBootOptionsParamFor(ctx, ipmiBootFlags(o)); err != nil {
		return fmt.Errorf("set boot flags: %w", ipmiErr(err))
	}
	return nil
}

func ipmiBootFlags(o BootOptions) *types.BootOptionParam_BootFlags {
	bootType := types.BIOSBootTypeLegacy
	if o.Mode == BootModeUEFI {
		bootType = types.BIOSBootTypeEFI
	}
	return &types.BootOptionParam_BootFlags{
		BootFlagsValid:     true,
		Persist:            o.Persistent,
		BIOSBootType:       bootType,
		BootDeviceSelector: ipmiDevices[o.Device],
	}
}

// Probe reads Get Device ID: manufacturer id, product id, firmware revision.
func (d *ipmiDriver) Probe(ctx context.Context) (Info, error) {
	c, err := d.conn()
	if err != nil {
		return Info{}, err
	}
	id, err := c.GetDeviceID(ctx)
	if err != nil {
		return Info{}, fmt.Errorf("get device id: %w", ipmiErr(err))
	}
	return Info{
		Vendor:       fmt.Sprintf("IANA %d", id.ManufacturerID),
		Model:        fmt.Sprintf("product 0x%04x", id.ProductID),
		Firmware:     fmt.Sprintf("%d.%02x", id.MajorFirmwareRevision, id.MinorFirmwareRevision),
		System:       fmt.Sprintf("%s:%d", d.cfg.Address, d.cfg.Port),
		Capabilities: []Capability{CapPowerState, CapPowerOn, CapPowerOff, CapPowerCycle, CapBootDevice, CapProbe},
	}, nil
}
