package bmc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
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

// Client drives one node's BMC through its driver. Operations are serialised; each attempt
// has the configured timeout, transient failures are retried with backoff, and the
// connection is reopened after a failure. Safe for concurrent use.
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

// do runs one operation: open the connection if needed, run fn with a per-attempt timeout,
// retry transient failures with backoff, close the connection after a failure, log, count.
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
	wait := c.cfg.Backoff
	var err error
	attempt := 0
	for attempt < c.cfg.Attempts {
		attempt++
		var reused bool
		reused, err = c.attempt(ctx, fn)
		if err != nil && reused && errors.Is(err, ErrAuth) && ctx.Err() == nil {
			// A session the BMC has since dropped (expired, BMC rebooted): log in again
			// at once, once.
			c.closeQuietly()
			attempt++
			_, err = c.attempt(ctx, fn)
		}
		if err == nil || permanent(err) || ctx.Err() != nil {
			break
		}
		c.closeQuietly()
		if attempt == c.cfg.Attempts {
			break
		}
		c.log.Debug("bmc: retrying", "node", c.cfg.Node, "driver", c.cfg.Driver, "op", op, "attempt", attempt,
			"wait", wait, "err", scrub(err.Error(), secrets...))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		if ctx.Err() != nil {
			break
		}
		wait = min(2*wait, 10*time.Second)
	}
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	elapsed := time.Since(start)
	c.metrics.observe(c.cfg.Driver, op, elapsed.Seconds(), err)
	args := []any{"node", c.cfg.Node, "driver", c.cfg.Driver, "op", op, "duration", elapsed.Round(time.Millisecond), "attempts", attempt}
	for _, a := range attrs {
		args = append(args, a)
	}
	if err != nil {
		oe := newOpError(c.cfg, op, attempt, err, secrets...)
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

// attempt runs fn once under the per-attempt timeout, opening the connection first if needed;
// reused says whether the connection was already open.
func (c *Client) attempt(ctx context.Context, fn func(context.Context) error) (reused bool, err error) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	reused = c.open
	if !c.open {
		if err := c.drv.Open(actx); err != nil {
			c.closeQuietly()
			return false, fmt.Errorf("connect: %w", err)
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
