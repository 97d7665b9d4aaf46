package bmc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Driver names.
const (
	DriverRedfish = "redfish"
	DriverIPMI    = "ipmi"
	DriverLibvirt = "libvirt"
)

// Errors callers can test for with errors.Is. Errors wrapping ErrNotSupported, ErrAuth,
// ErrNotFound or ErrInvalid are permanent: the Client does not retry them.
var (
	ErrNotSupported = errors.New("not supported")
	ErrAuth         = errors.New("authentication failed")
	ErrNotFound     = errors.New("not found")
	ErrInvalid      = errors.New("invalid request")
	// ErrOutcomeUnknown: a power cycle was sent, its reply was lost, and the power state
	// could not be read afterwards, so whether the node cycled is not known. The Client does
	// not send it again; the caller decides (look again later, power on, ...).
	ErrOutcomeUnknown = errors.New("outcome unknown")
)

// PowerState is a node's power state as the BMC reports it.
type PowerState string

// Power states.
const (
	PowerOn      PowerState = "on"
	PowerOff     PowerState = "off"
	PowerUnknown PowerState = "unknown"
)

// BootDevice is where the node boots from next.
type BootDevice string

// Boot devices.
const (
	BootPXE  BootDevice = "pxe"
	BootCD   BootDevice = "cd"
	BootDisk BootDevice = "disk"
	// BootHTTP is UEFI HTTP boot from BootOptions.HTTPBootURI, with no PXE options from DHCP.
	// Drivers whose BMC does not advertise it return ErrNotSupported.
	BootHTTP BootDevice = "http"
)

// BootMode is the firmware mode of the next boot.
type BootMode string

// Boot modes; BootModeUnchanged leaves the BMC's current mode as it is.
const (
	BootModeUnchanged BootMode = ""
	BootModeUEFI      BootMode = "uefi"
	BootModeLegacy    BootMode = "legacy"
)

// BootOptions says which device the next boot uses, whether the choice persists beyond one
// boot, and in which firmware mode.
type BootOptions struct {
	Device     BootDevice
	Persistent bool
	Mode       BootMode
	// HTTPBootURI is the http(s) URL the firmware fetches with Device BootHTTP (an EFI
	// binary such as ipxe.efi, or an ISO); unused for other devices.
	HTTPBootURI string
}

func (o BootOptions) validate() error {
	switch o.Device {
	case BootPXE, BootCD, BootDisk:
	case BootHTTP:
		if o.HTTPBootURI == "" {
			return fmt.Errorf("%w: boot device http needs a boot URI", ErrInvalid)
		}
	default:
		return fmt.Errorf("%w: boot device %q: want pxe, cd, disk or http", ErrInvalid, o.Device)
	}
	switch o.Mode {
	case BootModeUnchanged, BootModeUEFI, BootModeLegacy:
	default:
		return fmt.Errorf("%w: boot mode %q: want uefi or legacy", ErrInvalid, o.Mode)
	}
	return nil
}

// Capability names one of the operations a driver may offer.
type Capability string

// Capabilities.
const (
	CapPowerState   Capability = "power-state"
	CapPowerOn      Capability = "power-on"
	CapPowerOff     Capability = "power-off"
	CapPowerCycle   Capability = "power-cycle"
	CapBootDevice   Capability = "boot-device"
	CapVirtualMedia Capability = "virtual-media"
	CapProbe        Capability = "probe"
)

// Info is what a probe learns about the BMC. The fields after Capabilities are what the
// Redfish driver reads from the BMC's advertisements; other drivers leave them empty.
type Info struct {
	Driver       string
	Vendor       string
	Model        string
	Firmware     string
	System       string // the system, domain or BMC the node maps to
	Capabilities []Capability

	Auth        string   // how the driver logs in: session or basic
	ResetTypes  []string // the power actions the BMC allows (ResetType AllowableValues)
	BootTargets []string // the boot override targets the system allows
	BootEnabled []string // the override durations it allows (Once, Continuous, ...); none: not advertised
	BootModes   []string // the firmware modes it can set; none when it has no BootSourceOverrideMode
	OneTimeBoot bool     // a one-time boot override is sent as Once (else Continuous is used)
	HTTPBoot    bool     // UEFI HTTP boot with a boot URI (UefiHttp and HttpBootUri advertised)
	Media       MediaInfo
	Fallbacks   []string // the fallbacks in effect, as they were logged
}

// MediaInfo says where the virtual CD is and how it is driven.
type MediaInfo struct {
	Location   string   // System or Manager; empty: no CD-capable virtual media
	Resource   string   // its @odata.id
	Method     string   // action (InsertMedia/EjectMedia) or PATCH
	Parameters []string // what an insert sends
}

// Driver is the part every driver has: a name, and a connection it opens before the first
// operation (and again after a failed one) and closes at the end.
type Driver interface {
	Name() string
	Open(ctx context.Context) error
	Close() error
}

// PowerStater reports the power state.
type PowerStater interface {
	PowerState(ctx context.Context) (PowerState, error)
}

// PowerOner powers the node on; a node that is on stays on.
type PowerOner interface {
	PowerOn(ctx context.Context) error
}

// PowerOffer powers the node off, gracefully (ACPI shutdown) or forced; a node that is off
// stays off.
type PowerOffer interface {
	PowerOff(ctx context.Context, force bool) error
}

// PowerCycler restarts a running node and powers on a node that is off.
type PowerCycler interface {
	PowerCycle(ctx context.Context) error
}

// BootDeviceSetter sets the next boot device.
type BootDeviceSetter interface {
	SetBootDevice(ctx context.Context, o BootOptions) error
}

// MediaInserter attaches an ISO (an http(s) URL; libvirt also takes a local file) as a
// virtual CD, and ejects it.
type MediaInserter interface {
	InsertMedia(ctx context.Context, image string) error
	EjectMedia(ctx context.Context) error
}

// Prober reports vendor, model and what the BMC supports.
type Prober interface {
	Probe(ctx context.Context) (Info, error)
}

// Config says how to reach one node's BMC. Only the fields of the chosen driver matter.
type Config struct {
	Node   string // for errors, logs
	Driver string // redfish | ipmi | libvirt

	// redfish and ipmi
	Address  string // redfish: http(s) URL of the BMC; ipmi: host or address
	Port     int    // ipmi: UDP port, default 623
	Username string
	Password string // never printed: Config's String and LogValue redact it
	// redfish
	Insecure bool   // skip TLS certificate verification
	SystemID string // which ComputerSystem; empty: the only one
	Auth     string // "session" (default, falls back to basic when the BMC has no sessions) or "basic"
	// ipmi
	CipherSuite int // lanplus cipher suite; 0 means 3

	// libvirt
	URI    string // e.g. qemu:///system, test+unix:///default?socket=/path, qemu+tcp://host/system
	Domain string // name or UUID

	// Timeout bounds one try of one operation (default 10s); Attempts bounds the tries of an
	// operation that fails for a reason a retry can help (default 3); Backoff is the first
	// wait between tries, doubled after each (default 1s, at most 10s). An operation thus
	// ends within Attempts tries: 3 x 10s + 1s + 2s = 33s by default. A session the BMC has
	// dropped adds one immediate re-login try; a power cycle whose reply was lost takes up to
	// Attempts more tries to read the power state (and power on a node found off).
	Timeout  time.Duration
	Attempts int
	Backoff  time.Duration
}

// DefaultTimeout bounds one try of one BMC operation when Config.Timeout is zero.
const DefaultTimeout = 10 * time.Second

const redacted = "[redacted]"

// String prints the config without the password.
func (c Config) String() string {
	pw := ""
	if c.Password != "" {
		pw = redacted
	}
	return fmt.Sprintf("bmc.Config{Node:%q Driver:%q Address:%q Port:%d Username:%q Password:%q Insecure:%t SystemID:%q Auth:%q CipherSuite:%d URI:%q Domain:%q Timeout:%s Attempts:%d Backoff:%s}",
		c.Node, c.Driver, c.Address, c.Port, c.Username, pw, c.Insecure, c.SystemID, c.Auth, c.CipherSuite, c.URI, c.Domain, c.Timeout, c.Attempts, c.Backoff)
}

// GoString is String, so %#v does not print the password either.
func (c Config) GoString() string { return c.String() }

// LogValue logs the config without the password.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.String("node", c.Node), slog.String("driver", c.Driver),
		slog.String("address", c.Address), slog.String("uri", c.URI), slog.String("domain", c.Domain))
}

func (c Config) withDefaults() Config {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Attempts <= 0 {
		c.Attempts = 3
	}
	if c.Backoff <= 0 {
		c.Backoff = time.Second
	}
	if c.Driver == DriverIPMI {
		if c.Port == 0 {
			c.Port = 623
		}
		if c.CipherSuite == 0 {
			c.CipherSuite = 3
		}
	}
	return c
}

// newDriver builds the driver the config names.
func newDriver(c Config) (Driver, error) {
	switch c.Driver {
	case DriverRedfish:
		return newRedfish(c)
	case DriverIPMI:
		return newIPMI(c)
	case DriverLibvirt:
		return newLibvirt(c)
	default:
		return nil, fmt.Errorf("%w: driver %q: want redfish, ipmi or libvirt", ErrInvalid, c.Driver)
	}
}

// Supports reports which capabilities a driver implements.
func Supports(d Driver) []Capability {
	var caps []Capability
	if _, ok := d.(PowerStater); ok {
		caps = append(caps, CapPowerState)
	}
	if _, ok := d.(PowerOner); ok {
		caps = append(caps, CapPowerOn)
	}
	if _, ok := d.(PowerOffer); ok {
		caps = append(caps, CapPowerOff)
	}
	if _, ok := d.(PowerCycler); ok {
		caps = append(caps, CapPowerCycle)
	}
	if _, ok := d.(BootDeviceSetter); ok {
		caps = append(caps, CapBootDevice)
	}
	if _, ok := d.(MediaInserter); ok {
		caps = append(caps, CapVirtualMedia)
	}
	if _, ok := d.(Prober); ok {
		caps = append(caps, CapProbe)
	}
	return caps
}
