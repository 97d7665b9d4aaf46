package bmc_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/bmc"
	"github.com/prometheus/client_golang/prometheus"
)

// flaky is a driver with only power state, failing its first n calls.
type flaky struct {
	fail        int
	calls       int
	opens       int
	err         error
	block       bool
	closeCalled int
}

func (f *flaky) Name() string                   { return "fake" }
func (f *flaky) Open(ctx context.Context) error { f.opens++; return nil }
func (f *flaky) Close() error                   { f.closeCalled++; return nil }
func (f *flaky) PowerState(ctx context.Context) (bmc.PowerState, error) {
	f.calls++
	if f.block {
		<-ctx.Done()
		return bmc.PowerUnknown, ctx.Err()
	}
	if f.calls <= f.fail {
		return bmc.PowerUnknown, f.err
	}
	return bmc.PowerOn, nil
}

const secret = "hunter2-secret"

func fakeClient(t *testing.T, d bmc.Driver, reg *prometheus.Registry, log *bytes.Buffer) *bmc.Client {
	m, err := bmc.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	return bmc.NewWithDriver(bmc.Config{Node: "n1", Password: secret, Timeout: 50 * time.Millisecond, Attempts: 3, Backoff: time.Millisecond},
		d, bmc.WithMetrics(m), bmc.WithLogger(slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))))
}

func TestClientRetriesTransientErrors(t *testing.T) {
	reg := prometheus.NewRegistry()
	var log bytes.Buffer
	d := &flaky{fail: 2, err: fmt.Errorf("connection reset (password %s)", secret)}
	c := fakeClient(t, d, reg, &log)
	st, err := c.PowerState(context.Background())
	if err != nil || st != bmc.PowerOn || d.calls != 3 || d.opens != 3 {
		t.Fatalf("state %v err %v calls %d opens %d", st, err, d.calls, d.opens)
	}
	if got := counter(t, reg, "fake", bmc.OpPowerState, bmc.ResultOK); got != 1 {
		t.Fatalf("ok counter %v", got)
	}
	if strings.Contains(log.String(), secret) || !strings.Contains(log.String(), "[redacted]") {
		t.Fatalf("log:\n%s", log.String())
	}
}

func TestClientGivesUpAndNamesEverything(t *testing.T) {
	reg := prometheus.NewRegistry()
	var log bytes.Buffer
	d := &flaky{fail: 99, err: fmt.Errorf("no route to host; tried with %s", secret)}
	c := fakeClient(t, d, reg, &log)
	_, err := c.PowerState(context.Background())
	var oe *bmc.OpError
	if !errors.As(err, &oe) || oe.Node != "n1" || oe.Driver != "fake" || oe.Op != bmc.OpPowerState || d.calls != 3 {
		t.Fatalf("err %#v calls %d", err, d.calls)
	}
	want := "bmc: node n1 (fake): power-state (after 3 attempts): no route to host; tried with [redacted]"
	if err.Error() != want {
		t.Fatalf("error text\n got %s\nwant %s", err, want)
	}
	if got := counter(t, reg, "fake", bmc.OpPowerState, bmc.ResultError); got != 1 {
		t.Fatalf("error counter %v", got)
	}
	if strings.Contains(log.String(), secret) {
		t.Fatalf("secret in log:\n%s", log.String())
	}
}

func TestClientPermanentErrorsAreNotRetried(t *testing.T) {
	d := &flaky{fail: 99, err: fmt.Errorf("%w: HTTP 401", bmc.ErrAuth)}
	c := fakeClient(t, d, prometheus.NewRegistry(), &bytes.Buffer{})
	if _, err := c.PowerState(context.Background()); !errors.Is(err, bmc.ErrAuth) || d.calls != 1 {
		t.Fatalf("err %v calls %d", err, d.calls)
	}
}

func TestClientTimeout(t *testing.T) {
	d := &flaky{block: true}
	c := fakeClient(t, d, prometheus.NewRegistry(), &bytes.Buffer{})
	_, err := c.PowerState(context.Background())
	if err == nil || !strings.Contains(err.Error(), "timed out after 50ms") || d.calls != 3 {
		t.Fatalf("err %v calls %d", err, d.calls)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d.calls = 0
	if _, err := c.PowerState(ctx); !errors.Is(err, context.Canceled) || d.calls > 1 {
		t.Fatalf("cancelled: err %v calls %d", err, d.calls)
	}
}

func TestClientNotSupported(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := fakeClient(t, &flaky{}, reg, &bytes.Buffer{})
	ctx := context.Background()
	for op, call := range map[string]func() error{
		bmc.OpPowerOn:       func() error { return c.PowerOn(ctx) },
		bmc.OpPowerOffForce: func() error { return c.PowerOff(ctx, true) },
		bmc.OpPowerCycle:    func() error { return c.PowerCycle(ctx) },
		bmc.OpSetBootDevice: func() error { return c.SetBootDevice(ctx, bmc.BootOptions{Device: bmc.BootPXE}) },
		bmc.OpInsertMedia:   func() error { return c.InsertMedia(ctx, "http://x/y.iso") },
		bmc.OpEjectMedia:    func() error { return c.EjectMedia(ctx) },
		bmc.OpProbe:         func() error { _, err := c.Probe(ctx); return err },
	} {
		err := call()
		if !errors.Is(err, bmc.ErrNotSupported) || err.Error() != "bmc: node n1 (fake): "+op+": not supported" {
			t.Errorf("%s: %v", op, err)
		}
		if got := counter(t, reg, "fake", op, bmc.ResultNotSupported); got != 1 {
			t.Errorf("%s: not_supported counter %v", op, got)
		}
	}
	if caps := c.Capabilities(); len(caps) != 1 || caps[0] != bmc.CapPowerState {
		t.Fatalf("capabilities %v", caps)
	}
}

func TestConfigRedacts(t *testing.T) {
	cfg := bmc.Config{Node: "n1", Driver: "redfish", Password: secret}
	var log bytes.Buffer
	slog.New(slog.NewJSONHandler(&log, nil)).Info("x", "cfg", cfg)
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg), log.String()} {
		if strings.Contains(s, secret) {
			t.Fatalf("secret printed: %s", s)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []bmc.Config{
		{Node: "n", Driver: "smoke-signals"},
		{Node: "n", Driver: bmc.DriverRedfish, Address: "10.0.0.1"},
		{Node: "n", Driver: bmc.DriverIPMI, Address: "http://x/"},
		{Node: "n", Driver: bmc.DriverIPMI, Address: "h", CipherSuite: 99},
		{Node: "n", Driver: bmc.DriverLibvirt, URI: "qemu:///system"},
	} {
		if _, err := bmc.New(cfg); !errors.Is(err, bmc.ErrInvalid) {
			t.Errorf("%v: err %v", cfg, err)
		}
	}
}

func counter(t *testing.T, reg *prometheus.Registry, driver, op, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "cn2_appliance_bmc_operations_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			lp := map[string]string{}
			for _, l := range m.GetLabel() {
				lp[l.GetName()] = l.GetValue()
			}
			if lp["driver"] == driver && lp["operation"] == op && lp["result"] == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// echo fails every media operation with an error quoting the image, as drivers do.
type echo struct{ flaky }

func (e *echo) InsertMedia(ctx context.Context, image string) error {
	return fmt.Errorf("%w: could not fetch %s", bmc.ErrInvalid, image)
}
func (e *echo) EjectMedia(ctx context.Context) error { return nil }

func TestClientHidesImageCredentials(t *testing.T) {
	var log bytes.Buffer
	c := fakeClient(t, &echo{}, prometheus.NewRegistry(), &log)
	err := c.InsertMedia(context.Background(), "https://iso:iso-pass-77@files.example/x.iso")
	if err == nil || strings.Contains(err.Error(), "iso-pass-77") || strings.Contains(log.String(), "iso-pass-77") {
		t.Fatalf("err %v\nlog %s", err, log.String())
	}
}

// cycler is a driver whose power cycles fail with the errors given, in turn; its power state
// fails with stateErr when set.
type cycler struct {
	flaky
	cycleErrs []error
	cycles    int
	stateErr  error
	powerOns  int
}

func (c *cycler) PowerCycle(ctx context.Context) error {
	c.cycles++
	if len(c.cycleErrs) == 0 {
		return nil
	}
	err := c.cycleErrs[0]
	c.cycleErrs = c.cycleErrs[1:]
	return err
}

func (c *cycler) PowerState(ctx context.Context) (bmc.PowerState, error) {
	if c.stateErr != nil {
		return bmc.PowerUnknown, c.stateErr
	}
	return bmc.PowerOff, nil
}

func (c *cycler) PowerOn(ctx context.Context) error { c.powerOns++; return nil }

func TestClientPowerCycle(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	for _, tc := range []struct {
		name             string
		d                *cycler
		wantErr          error
		cycles, powerOns int
		result           string
	}{
		{"refused before sending: sent again", &cycler{cycleErrs: []error{refused}}, nil, 2, 0, bmc.ResultOK},
		{"reply lost, node off: powered on", &cycler{cycleErrs: []error{io.ErrUnexpectedEOF}}, nil, 1, 1, bmc.ResultOK},
		{"reply lost, state unreadable", &cycler{cycleErrs: []error{io.ErrUnexpectedEOF}, stateErr: io.EOF}, bmc.ErrOutcomeUnknown, 1, 0, bmc.ResultOutcomeUnknown},
		{"reply lost, no way to read the state", &cycler{cycleErrs: []error{io.ErrUnexpectedEOF}, stateErr: bmc.ErrNotSupported}, bmc.ErrOutcomeUnknown, 1, 0, bmc.ResultOutcomeUnknown},
		{"unsupported: not retried", &cycler{cycleErrs: []error{bmc.ErrNotSupported}}, bmc.ErrNotSupported, 1, 0, bmc.ResultNotSupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			c := fakeClient(t, tc.d, reg, &bytes.Buffer{})
			err := c.PowerCycle(context.Background())
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if tc.d.cycles != tc.cycles || tc.d.powerOns != tc.powerOns {
				t.Fatalf("%d cycles, %d power ons; want %d, %d", tc.d.cycles, tc.d.powerOns, tc.cycles, tc.powerOns)
			}
			if got := counter(t, reg, "fake", bmc.OpPowerCycle, tc.result); got != 1 {
				t.Fatalf("%s counter %v", tc.result, got)
			}
		})
	}
}
