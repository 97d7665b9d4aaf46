package bmc

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/digitalocean/go-libvirt"
)

// libvirtDriver drives one libvirt domain with go-libvirt, through the local socket or any
// transport a libvirt URI names (qemu:///system, qemu+tcp://host/system,
// test+unix:///default?socket=/path, ...). Next-boot and CD changes edit the domain's
// persistent definition, so they take effect at the next start: PowerCycle is destroy + create
// for that reason.
type libvirtDriver struct {
	cfg Config
	uri *url.URL
	l   *libvirt.Libvirt // nil until Open
	dom libvirt.Domain
}

var (
	_ PowerStater      = (*libvirtDriver)(nil)
	_ PowerOner        = (*libvirtDriver)(nil)
	_ PowerOffer       = (*libvirtDriver)(nil)
	_ PowerCycler      = (*libvirtDriver)(nil)
	_ BootDeviceSetter = (*libvirtDriver)(nil)
	_ MediaInserter    = (*libvirtDriver)(nil)
	_ Prober           = (*libvirtDriver)(nil)
)

func newLibvirt(c Config) (*libvirtDriver, error) {
	raw := c.URI
	if raw == "" {
		raw = "qemu:///system"
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return nil, fmt.Errorf("%w: libvirt uri %q: want e.g. qemu:///system or qemu+tcp://host/system", ErrInvalid, raw)
	}
	if c.Domain == "" {
		return nil, fmt.Errorf("%w: libvirt domain: give the domain's name or UUID", ErrInvalid)
	}
	return &libvirtDriver{cfg: c, uri: u}, nil
}

func (d *libvirtDriver) Name() string { return DriverLibvirt }

// call runs a blocking go-libvirt call under ctx: go-libvirt takes no context, so when ctx
// ends first the connection is dropped, which ends the call.
func (d *libvirtDriver) call(ctx context.Context, fn func(l *libvirt.Libvirt) error) error {
	l := d.l
	if l == nil {
		return errors.New("not connected")
	}
	done := make(chan error, 1)
	go func() { done <- fn(l) }()
	select {
	case err := <-done:
		return libvirtErr(err)
	case <-ctx.Done():
		d.l = nil
		go func() { _ = l.Disconnect() }()
		<-done
		return ctx.Err()
	}
}

// libvirtErr marks a missing domain as ErrNotFound, and any other error the daemon answered as
// a call it did not carry out. A dropped connection is left as it is.
func libvirtErr(err error) error {
	var le libvirt.Error
	switch {
	case err != nil && libvirt.IsNotFound(err):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case errors.As(err, &le):
		return notSent(err)
	}
	return err
}

// Open connects and finds the domain by UUID (when the name parses as one) or by name.
func (d *libvirtDriver) Open(ctx context.Context) error {
	done := make(chan struct{})
	var l *libvirt.Libvirt
	var err error
	go func() { defer close(done); l, err = libvirt.ConnectToURI(d.uri) }()
	select {
	case <-done:
	case <-ctx.Done():
		go func() {
			<-done
			if l != nil {
				_ = l.Disconnect()
			}
		}()
		return ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("connect to %s: %w", d.uri.Redacted(), err)
	}
	d.l = l
	return d.call(ctx, func(l *libvirt.Libvirt) error {
		var err error
		if uuid, ok := parseUUID(d.cfg.Domain); ok {
			d.dom, err = l.DomainLookupByUUID(uuid)
		} else {
			d.dom, err = l.DomainLookupByName(d.cfg.Domain)
		}
		if err != nil {
			return fmt.Errorf("find domain %q: %w", d.cfg.Domain, libvirtErr(err))
		}
		return nil
	})
}

func parseUUID(s string) (libvirt.UUID, bool) {
	var u libvirt.UUID
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(b) != len(u) {
		return u, false
	}
	copy(u[:], b)
	return u, true
}

func (d *libvirtDriver) Close() error {
	if d.l == nil {
		return nil
	}
	err := d.l.Disconnect()
	d.l = nil
	return err
}

func (d *libvirtDriver) PowerState(ctx context.Context) (PowerState, error) {
	var st int32
	err := d.call(ctx, func(l *libvirt.Libvirt) error {
		var err error
		st, _, err = l.DomainGetState(d.dom, 0)
		return err
	})
	if err != nil {
		return PowerUnknown, fmt.Errorf("get state: %w", err)
	}
	switch libvirt.DomainState(st) {
	case libvirt.DomainRunning, libvirt.DomainBlocked, libvirt.DomainPaused, libvirt.DomainShutdown, libvirt.DomainPmsuspended:
		return PowerOn, nil
	case libvirt.DomainShutoff, libvirt.DomainCrashed:
		return PowerOff, nil
	}
	return PowerUnknown, nil
}

func (d *libvirtDriver) do(ctx context.Context, what string, fn func(*libvirt.Libvirt, libvirt.Domain) error) error {
	if err := d.call(ctx, func(l *libvirt.Libvirt) error { return fn(l, d.dom) }); err != nil {
		return fmt.Errorf("%s %s: %w", what, d.dom.Name, err)
	}
	return nil
}

func (d *libvirtDriver) PowerOn(ctx context.Context) error {
	st, err := d.PowerState(ctx)
	if err != nil || st == PowerOn {
		return err
	}
	return d.do(ctx, "create", (*libvirt.Libvirt).DomainCreate)
}

func (d *libvirtDriver) PowerOff(ctx context.Context, force bool) error {
	st, err := d.PowerState(ctx)
	if err != nil || st == PowerOff {
		return err
	}
	if force {
		return d.do(ctx, "destroy", (*libvirt.Libvirt).DomainDestroy)
	}
	return d.do(ctx, "shutdown", (*libvirt.Libvirt).DomainShutdown)
}

// PowerCycle destroys a running domain and creates it again, so that it starts from its
// persistent definition (the boot order and CD set since it started).
func (d *libvirtDriver) PowerCycle(ctx context.Context) error {
	st, err := d.PowerState(ctx)
	if err != nil {
		return notSent(err)
	}
	if st == PowerOn {
		if err := d.do(ctx, "destroy", (*libvirt.Libvirt).DomainDestroy); err != nil {
			return err
		}
	}
	return d.do(ctx, "create", (*libvirt.Libvirt).DomainCreate)
}

// redefine applies edit to the domain's persistent XML and defines the result.
func (d *libvirtDriver) redefine(ctx context.Context, what string, edit func(string) (string, error)) error {
	return d.call(ctx, func(l *libvirt.Libvirt) error {
		x, err := l.DomainGetXMLDesc(d.dom, libvirt.DomainXMLInactive|libvirt.DomainXMLSecure)
		if err != nil {
			return fmt.Errorf("read the definition of %s: %w", d.dom.Name, err)
		}
		nx, err := edit(x)
		if err != nil {
			return err
		}
		if nx == x {
			return nil
		}
		if d.dom, err = l.DomainDefineXML(nx); err != nil {
			return fmt.Errorf("%s: define %s: %w", what, d.cfg.Domain, err)
		}
		return nil
	})
}

// SetBootDevice rewrites the domain's boot order. libvirt has no one-time boot: the order is
// persistent either way, and the caller sets disk again when the node should stop booting
// from the network. Firmware mode cannot be switched on an existing domain: asking for the
// other mode is not supported.
func (d *libvirtDriver) SetBootDevice(ctx context.Context, o BootOptions) error {
	return d.redefine(ctx, "set boot order", func(x string) (string, error) {
		if o.Mode != BootModeUnchanged && domainIsUEFI(x) != (o.Mode == BootModeUEFI) {
			return "", fmt.Errorf("%w: domain %s boots %s; change its firmware by hand", ErrNotSupported, d.cfg.Domain, map[bool]string{true: "UEFI", false: "legacy BIOS"}[domainIsUEFI(x)])
		}
		return setBootOrder(x, o.Device)
	})
}

// InsertMedia makes image (an http(s) URL or a file on the hypervisor host) the domain's CD,
// adding a CD drive if it has none.
func (d *libvirtDriver) InsertMedia(ctx context.Context, image string) error {
	return d.redefine(ctx, "insert "+image, func(x string) (string, error) { return setCDROM(x, image) })
}

// EjectMedia empties the domain's CD drive, if it has one.
func (d *libvirtDriver) EjectMedia(ctx context.Context) error {
	return d.redefine(ctx, "eject", func(x string) (string, error) { return setCDROM(x, "") })
}

// Probe reports the hypervisor driver and libvirt version.
func (d *libvirtDriver) Probe(ctx context.Context) (Info, error) {
	var typ string
	var ver uint64
	err := d.call(ctx, func(l *libvirt.Libvirt) error {
		var err error
		if typ, err = l.ConnectGetType(); err != nil {
			return err
		}
		ver, err = l.ConnectGetLibVersion()
		return err
	})
	if err != nil {
		return Info{}, fmt.Errorf("probe: %w", err)
	}
	return Info{
		Vendor:       "libvirt",
		Model:        typ,
		Firmware:     fmt.Sprintf("%d.%d.%d", ver/1000000, ver/1000%1000, ver%1000),
		System:       fmt.Sprintf("%s (%x)", d.dom.Name, d.dom.UUID),
		Capabilities: Supports(d),
	}, nil
}
