package bmc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/retry"
)

// Operation names, as they appear in errors, logs and metrics.
const (
	OpPowerState    = "power-state"
	OpPowerOn       = "power-on"
	OpPowerOff      = "power-off"
	OpPowerOffForce = "power-off-force"
	OpPowerCycle    = "power-cycle"
	OpSetBootDevice = "set-boot-device"
	OpInsertMedia   = "insert-media"
	OpEjectMedia    = "eject-media"
	OpProbe         = "probe"
)

// Client drives one node's BMC through its driver. Operations are serialised; each try has the
// configured timeout and the connection is reopened after a failure. Failures are retried
// (retry.Do) by what they say and what the operation is: permanent ones (authentication after
// one re-login of a dropped session, certificates, invalid or unsupported requests, IPMI
// "unspecified error") never; idempotent operations after any other failure; a power cycle
// only when it certainly was not carried out, else the power state decides (see settleCycle).
// Safe for concurrent use.
type Client struct {
	cfg     Config
	drv     Driver
	log     *slog.Logger
	metrics *Metrics

	mu   sync.Mutex
	open bool
}

// Option configures a Client.
type Option func(*Client)

// WithLogger logs every operation on l (default: slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *Client) { c.log = l } }

// WithMetrics counts and times every operation in m.
func WithMetrics(m *Metrics) Option { return func(c *Client) { c.metrics = m } }

// New returns a Client for the driver the config names. It does not connect yet.
func New(cfg Config, opts ...Option) (*Client, error) {
	cfg = cfg.withDefaults()
	d, err := newDriver(cfg)
	if err != nil {
		return nil, newOpError(cfg, "new", 1, err)
	}
	return NewWithDriver(cfg, d, opts...), nil
}

// NewWithDriver returns a Client around any Driver (another implementation, or a fake).
// cfg supplies the node name, the timeouts and retries; cfg.Driver defaults to d.Name().
func NewWithDriver(cfg Config, d Driver, opts ...Option) *Client {
	if cfg.Driver == "" {
		cfg.Driver = d.Name()
	}
	c := &Client{cfg: cfg.withDefaults(), drv: d, log: slog.Default()}
	for _, o := range opts {
		o(c)
	}
	if l, ok := d.(interface{ setLogger(*slog.Logger) }); ok { // drivers that log their fallbacks
		l.setLogger(c.log.With("node", c.cfg.Node, "driver", c.cfg.Driver))
	}
	return c
}

// Node is the node this client drives.
func (c *Client) Node() string { return c.cfg.Node }

// Driver is the name of the client's driver.
func (c *Client) Driver() string { return c.cfg.Driver }

// Capabilities lists what the driver implements.
func (c *Client) Capabilities() []Capability { return Supports(c.drv) }

// Close closes the driver's connection.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.open = false
	return c.drv.Close()
}

// PowerState reports whether the node is on or off.
func (c *Client) PowerState(ctx context.Context) (PowerState, error) {
	st := PowerUnknown
	err := c.do(ctx, OpPowerState, slog.LevelDebug, func(ctx context.Context) error {
		d, ok := c.drv.(PowerStater)
		if !ok {
			return ErrNotSupported
		}
		s, err := d.PowerState(ctx)
		st = s
		return err
	})
	return st, err
}

// PowerOn powers the node on.
func (c *Client) PowerOn(ctx context.Context) error {
	return c.do(ctx, OpPowerOn, slog.LevelInfo, func(ctx context.Context) error {
		d, ok := c.drv.(PowerOner)
		if !ok {
			return ErrNotSupported
		}
		return d.PowerOn(ctx)
	})
}

// PowerOff powers the node off: forced (power removed at once) or graceful (ACPI shutdown;
// the call returns once the BMC accepted it, not when the node is off).
func (c *Client) PowerOff(ctx context.Context, force bool) error {
	op := OpPowerOff
	if force {
		op = OpPowerOffForce
	}
	return c.do(ctx, op, slog.LevelInfo, func(ctx context.Context) error {
		d, ok := c.drv.(PowerOffer)
		if !ok {
			return ErrNotSupported
		}
		return d.PowerOff(ctx, force)
	})
}

// PowerCycle restarts the node, or powers it on if it is off.
func (c *Client) PowerCycle(ctx context.Context) error {
	return c.do(ctx, OpPowerCycle, slog.LevelInfo, func(ctx context.Context) error {
		d, ok := c.drv.(PowerCycler)
		if !ok {
			return ErrNotSupported
		}
		return d.PowerCycle(ctx)
	})
}

// SetBootDevice sets the device of the next boot (or of every boot, if o.Persistent).
func (c *Client) SetBootDevice(ctx context.Context, o BootOptions) error {
	return c.do(ctx, OpSetBootDevice, slog.LevelInfo, func(ctx context.Context) error {
		if err := o.validate(); err != nil {
			return err
		}
		d, ok := c.drv.(BootDeviceSetter)
		if !ok {
			return ErrNotSupported
		}
		return d.SetBootDevice(ctx, o)
	}, slog.String("device", string(o.Device)), slog.Bool("persistent", o.Persistent), slog.String("mode", string(o.Mode)))
}

// InsertMedia attaches the ISO at image as the node's virtual CD, replacing any other.
func (c *Client) InsertMedia(ctx context.Context, image string) error {
	return c.do(ctx, OpInsertMedia, slog.LevelInfo, func(ctx context.Context) error {
		if image == "" {
			return fmt.Errorf("%w: no image given", ErrInvalid)
		}
		d, ok := c.drv.(MediaInserter)
		if !ok {
			return ErrNotSupported
		}
		return d.InsertMedia(ctx, image)
	}, slog.String("image", image))
}

// EjectMedia detaches the node's virtual CD; nothing inserted is not an error.
func (c *Client) EjectMedia(ctx context.Context) error {
	return c.do(ctx, OpEjectMedia, slog.LevelInfo, func(ctx context.Context) error {
		d, ok := c.drv.(MediaInserter)
		if !ok {
			return ErrNotSupported
		}
		return d.EjectMedia(ctx)
	})
}

// Probe asks the BMC who it is and what it supports.
func (c *Client) Probe(ctx context.Context) (Info, error) {
	var info Info
	err := c.do(ctx, OpProbe, slog.LevelDebug, func(ctx context.Context) error {
		d, ok := c.drv.(Prober)
		if !ok {
			return ErrNotSupported
		}
		i, err := d.Probe(ctx)
		info = i
		return err
	})
	info.Driver = c.cfg.Driver
	return info, err
}

// do runs one operation: each try opens the connection if needed and runs fn under the
// per-try timeout; what a failed try leads to (try again, give up, read the power state) is
// nextStep's decision; the connection is closed after a failure that may be retried. Then it
// logs and counts the operation.
func (c *Client) do(ctx context.Context, op string, level slog.Level, fn func(context.Context) error, attrs ...slog.Attr) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	start := time.Now()
	secrets := []string{c.cfg.Password}
	for i, a := range attrs {
		if a.Key == "image" { // an ISO URL may carry credentials
			pw, shown := urlSecret(a.Value.String())
			secrets = append(secrets, pw)
			attrs[i] = slog.String("image", shown)
		}
	}
	tries := 0
	outcomeUnknown := false
	err := retry.Do(ctx, c.policy(op, secrets), func(int) error {
		err := c.try(ctx, fn, &tries)
		if err == nil {
			return nil
		}
		switch nextStep(op, err) {
		case giveUp:
			return retry.Permanent(err)
		case readState:
			outcomeUnknown = true
			c.closeQuietly()
			return retry.Permanent(err)
		}
		c.closeQuietly()
		return err
	})
	switch {
	case outcomeUnknown && ctx.Err() != nil:
		err = fmt.Errorf("%w: the power cycle's reply was lost, and the operation was stopped: %w", ErrOutcomeUnknown, err)
	case outcomeUnknown:
		err = c.settleCycle(ctx, err, &tries, secrets)
	}
	elapsed := time.Since(start)
	c.metrics.observe(c.cfg.Driver, op, elapsed.Seconds(), err)
	args := []any{"node", c.cfg.Node, "driver", c.cfg.Driver, "op", op, "duration", elapsed.Round(time.Millisecond), "attempts", tries}
	for _, a := range attrs {
		args = append(args, a)
	}
	if err != nil {
		oe := newOpError(c.cfg, op, tries, err, secrets...)
		lv := slog.LevelWarn
		if errors.Is(err, ErrNotSupported) {
			lv = slog.LevelInfo
		}
		c.log.Log(context.Background(), lv, "bmc: operation failed", append(args, "err", oe.msg)...)
		return oe
	}
	c.log.Log(context.Background(), level, "bmc: "+op, args...)
	return nil
}

// policy is the retry policy of every operation: Attempts tries, Backoff doubling up to 10s.
func (c *Client) policy(op string, secrets []string) retry.Policy {
	return retry.Policy{Tries: c.cfg.Attempts, First: c.cfg.Backoff, Max: 10 * time.Second,
		OnRetry: func(try int, err error, wait time.Duration) {
			c.log.Debug("bmc: retrying", "node", c.cfg.Node, "driver", c.cfg.Driver, "op", op, "attempt", try,
				"wait", wait, "err", scrub(err.Error(), secrets...))
		}}
}

// try runs fn once. A session the BMC has since dropped (ErrAuth on a connection that was
// already open: expired, BMC rebooted) is logged in again at once, once; that counts as a try.
// An authentication failure means the BMC refused the request, so this is safe for a power
// cycle too.
func (c *Client) try(ctx context.Context, fn func(context.Context) error, tries *int) error {
	*tries++
	reused, err := c.attempt(ctx, fn)
	if err != nil && reused && errors.Is(err, ErrAuth) && ctx.Err() == nil {
		c.closeQuietly()
		*tries++
		_, err = c.attempt(ctx, fn)
	}
	return err
}

// settleCycle decides a power cycle whose outcome is unknown (cause: its reply was lost)
// without sending it again: it reads the power state, under the same retry policy. On: the
// cycle is taken as done. Off: the node is powered on (idempotent). Unreadable:
// ErrOutcomeUnknown. The decision is logged at warn.
func (c *Client) settleCycle(ctx context.Context, cause error, tries *int, secrets []string) error {
	stater, canRead := c.drv.(PowerStater)
	oner, canPowerOn := c.drv.(PowerOner)
	if !canRead || !canPowerOn {
		return fmt.Errorf("%w: the power cycle's reply was lost (%w) and the driver cannot read the power state and power on", ErrOutcomeUnknown, cause)
	}
	read, poweredOn := false, false
	err := retry.Do(ctx, c.policy(OpPowerCycle, secrets), func(int) error {
		err := c.try(ctx, func(ctx context.Context) error {
			st, err := stater.PowerState(ctx)
			switch {
			case err != nil:
				return err
			case st == PowerOn:
				read = true
				return nil
			case st == PowerOff:
				read, poweredOn = true, true
				return oner.PowerOn(ctx)
			}
			return fmt.Errorf("the BMC reports power state %q", st)
		}, tries)
		if err == nil {
			return nil
		}
		if nextStep(OpPowerState, err) == giveUp {
			return retry.Permanent(err)
		}
		c.closeQuietly()
		return err
	})
	switch {
	case !read:
		return fmt.Errorf("%w: the power cycle's reply was lost (%w), and reading the power state failed: %v", ErrOutcomeUnknown, cause, err)
	case err != nil:
		return fmt.Errorf("the power cycle's reply was lost (%w); the node was off, and powering it on failed: %w", cause, err)
	}
	decided := "the node is on: the power cycle is taken as done"
	if poweredOn {
		decided = "the node was off: powered it on"
	}
	c.log.Warn("bmc: power cycle outcome unknown", "node", c.cfg.Node, "driver", c.cfg.Driver, "op", OpPowerCycle,
		"decided", decided, "err", scrub(cause.Error(), secrets...))
	return nil
}

// attempt runs fn once under the per-try timeout, opening the connection first if needed;
// reused says whether the connection was already open. A failure to open is marked notSent:
// nothing was asked of the BMC yet.
func (c *Client) attempt(ctx context.Context, fn func(context.Context) error) (reused bool, err error) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	reused = c.open
	if !c.open {
		if err := c.drv.Open(actx); err != nil {
			c.closeQuietly()
			if actx.Err() != nil && ctx.Err() == nil {
				err = fmt.Errorf("timed out after %s: %w", c.cfg.Timeout, err)
			}
			return false, notSent(fmt.Errorf("connect: %w", err))
		}
		c.open = true
	}
	err = fn(actx)
	if err != nil && actx.Err() != nil && ctx.Err() == nil {
		return reused, fmt.Errorf("timed out after %s: %w", c.cfg.Timeout, err)
	}
	return reused, err
}

func (c *Client) closeQuietly() {
	c.open = false
	_ = c.drv.Close()
}
