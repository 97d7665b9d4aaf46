package bmc_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/bmc"
	"github.com/cn2-appliance/cn2-appliance/pkg/bmc/bmctest"
)

// These tests drive the retry rules against the peers: the Redfish fake and ipmi_sim (behind
// a relay that loses replies). They assert what the BMC received and how many tries were
// made, never how long anything took.

// logBuffer is a log the test reads after the client wrote it.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// loggedClient is testClient with the log kept for the test to read.
func loggedClient(t *testing.T, cfg bmc.Config, mod ...func(*bmc.Config)) (*bmc.Client, *logBuffer) {
	t.Helper()
	for _, m := range mod {
		m(&cfg)
	}
	log := &logBuffer{}
	c, err := bmc.New(cfg, bmc.WithLogger(slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Close()
		if t.Failed() {
			t.Logf("client log:\n%s", log)
		}
	})
	return c, log
}

func attempts(t *testing.T, err error) int {
	t.Helper()
	var oe *bmc.OpError
	if !errors.As(err, &oe) {
		t.Fatalf("err %v is not an *OpError", err)
	}
	return oe.Attempts
}

func redfishConfig(fake *bmctest.Redfish) bmc.Config {
	return bmc.Config{Node: "master-0", Driver: bmc.DriverRedfish, Address: fake.URL, Username: "admin",
		Password: "password", Insecure: true, Timeout: 10 * time.Second, Attempts: 3, Backoff: 10 * time.Millisecond}
}

// TestRedfishPowerCycleReplyLost: the BMC restarts the node and the connection drops before the
// answer. The client must not send the reset again: the node is on, so the cycle is done.
func TestRedfishPowerCycleReplyLost(t *testing.T) {
	fake := bmctest.NewRedfish(t, bmctest.RedfishOptions{})
	c, log := loggedClient(t, redfishConfig(fake))
	fake.DropNextResetReply()
	if err := c.PowerCycle(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := fake.Resets(); strings.Join(got, ",") != "ForceRestart" {
		t.Fatalf("resets %v: want one ForceRestart", got)
	}
	if fake.PowerState() != "On" {
		t.Fatalf("power %s", fake.PowerState())
	}
	if n := strings.Count(log.String(), "power cycle outcome unknown"); n != 1 || !strings.Contains(log.String(), `decided="the node is on`) {
		t.Fatalf("%d warnings; log:\n%s", n, log)
	}
}

// TestRedfishPowerCycleReplyLostNodeOff: a BMC without restart types cycles by ForceOff and On;
// the reply to the ForceOff is lost. The node is found off and powered on, once.
func TestRedfishPowerCycleReplyLostNodeOff(t *testing.T) {
	fake := bmctest.NewRedfish(t, bmctest.RedfishOptions{ResetTypes: []string{"On", "ForceOff"}})
	c, log := loggedClient(t, redfishConfig(fake))
	fake.DropNextResetReply()
	if err := c.PowerCycle(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := fake.Resets(); strings.Join(got, ",") != "ForceOff,On" {
		t.Fatalf("resets %v: want ForceOff, then On", got)
	}
	if fake.PowerState() != "On" || !strings.Contains(log.String(), `decided="the node was off: powered it on"`) {
		t.Fatalf("power %s; log:\n%s", fake.PowerState(), log)
	}
}

// TestRedfishUnknownAuthority: a certificate no CA vouches for fails after one try.
func TestRedfishUnknownAuthority(t *testing.T) {
	fake := bmctest.NewRedfish(t, bmctest.RedfishOptions{TLS: true})
	c, _ := loggedClient(t, redfishConfig(fake), func(c *bmc.Config) { c.Insecure = false })
	_, err := c.PowerState(context.Background())
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("err = %v, want a certificate error", err)
	}
	if n := attempts(t, err); n != 1 || fake.Connections() != 1 {
		t.Fatalf("%d attempts, %d connections: want 1", n, fake.Connections())
	}
}

// TestRedfishBadCredentials: refused credentials fail at once; a session the BMC dropped is
// logged in again once, and when that is refused too, the operation fails.
func TestRedfishBadCredentials(t *testing.T) {
	logins := func(fake *bmctest.Redfish) int {
		n := 0
		for _, r := range fake.Requests() {
			if r.Method == "POST" && r.Path == "/redfish/v1/SessionService/Sessions" {
				n++
			}
		}
		return n
	}
	fake := bmctest.NewRedfish(t, bmctest.RedfishOptions{})
	c, _ := loggedClient(t, redfishConfig(fake), func(c *bmc.Config) { c.Password = "wrong-password" })
	_, err := c.PowerState(context.Background())
	if !errors.Is(err, bmc.ErrAuth) || attempts(t, err) != 1 || logins(fake) != 1 {
		t.Fatalf("err %v, %d logins", err, logins(fake))
	}

	fake = bmctest.NewRedfish(t, bmctest.RedfishOptions{})
	c, _ = loggedClient(t, redfishConfig(fake))
	if _, err := c.PowerState(context.Background()); err != nil {
		t.Fatal(err)
	}
	fake.SetCredentials("admin", "rotated-password")
	fake.ExpireSessions()
	err = c.PowerCycle(context.Background())
	if !errors.Is(err, bmc.ErrAuth) || attempts(t, err) != 2 || logins(fake) != 2 || len(fake.Resets()) != 0 {
		t.Fatalf("err %v, %d logins, resets %v: want the one re-login, refused", err, logins(fake), fake.Resets())
	}
}

// TestRedfishNeverAnswers: a BMC that accepts connections and never answers fails after
// Attempts tries.
func TestRedfishNeverAnswers(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 100)
	go func() {
		defer close(accepted)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- conn // held open, never answered
		}
	}()
	var held []net.Conn
	t.Cleanup(func() {
		_ = ln.Close()
		for c := range accepted {
			held = append(held, c)
		}
		for _, c := range held {
			_ = c.Close()
		}
	})
	// connections counts the connections accepted since the last call: it connects once more
	// itself and takes every connection accepted before that one.
	connections := func() int {
		probe, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer probe.Close()
		n := 0
		for c := range accepted {
			held = append(held, c)
			if c.RemoteAddr().String() == probe.LocalAddr().String() {
				return n
			}
			n++
		}
		t.Fatal("listener closed")
		return 0
	}
	cfg := bmc.Config{Node: "master-0", Driver: bmc.DriverRedfish, Address: "http://" + ln.Addr().String(), Username: "admin",
		Password: "password", Timeout: 200 * time.Millisecond, Attempts: 3, Backoff: 10 * time.Millisecond}
	for _, op := range []struct {
		name string
		call func(*bmc.Client) error
	}{
		{bmc.OpPowerState, func(c *bmc.Client) error { _, err := c.PowerState(context.Background()); return err }},
		{bmc.OpPowerCycle, func(c *bmc.Client) error { return c.PowerCycle(context.Background()) }},
	} {
		c, _ := loggedClient(t, cfg)
		err := op.call(c)
		if n := connections(); err == nil || !strings.Contains(err.Error(), "timed out") || attempts(t, err) != 3 || n != 3 {
			t.Fatalf("%s: err %v, %d connections: want 3 tries", op.name, err, n)
		}
	}
}

func ipmiRelayClient(t *testing.T, sim *bmctest.IPMISim, relay *bmctest.IPMIRelay) (*bmc.Client, *logBuffer) {
	return loggedClient(t, bmc.Config{Node: "worker-1", Driver: bmc.DriverIPMI, Address: relay.Host, Port: relay.Port,
		Username: sim.Username, Password: sim.Password, Timeout: 3 * time.Second, Attempts: 3, Backoff: 50 * time.Millisecond})
}

// cycled reports when ipmi_sim's chassis has powered off (the first half of a power cycle)
// since the call.
func cycled(sim *bmctest.IPMISim) func() bool {
	before := sim.ChassisSets("power 0")
	return func() bool { return sim.ChassisSets("power 0") > before }
}

// TestIPMIPowerCycleReplyLost: ipmi_sim cycles the chassis and the relay loses the reply. The
// BMC must carry out one power cycle, and the node end on.
func TestIPMIPowerCycleReplyLost(t *testing.T) {
	sim := bmctest.StartIPMISim(t)
	relay := bmctest.StartIPMIRelay(t, sim)
	c, log := ipmiRelayClient(t, sim, relay)
	ctx := context.Background()
	if err := c.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
	relay.DropReplyAfter(cycled(sim), false)
	if err := c.PowerCycle(ctx); err != nil {
		t.Fatal(err)
	}
	if n := sim.ChassisSets("power 0"); n != 1 {
		t.Fatalf("the chassis powered off %d times, want one power cycle; chassis log:\n%s", n, sim.ChassisLog())
	}
	if sim.Power() != "1" {
		t.Fatalf("chassis power %s", sim.Power())
	}
	if n := strings.Count(log.String(), "power cycle outcome unknown"); n != 1 {
		t.Fatalf("%d outcome warnings; log:\n%s", n, log)
	}
}

// TestIPMIPowerCycleOutcomeUnknown: the reply is lost and the BMC answers nothing after it: the
// cycle is not sent again, and the error says the outcome is unknown.
func TestIPMIPowerCycleOutcomeUnknown(t *testing.T) {
	sim := bmctest.StartIPMISim(t)
	relay := bmctest.StartIPMIRelay(t, sim)
	c, _ := ipmiRelayClient(t, sim, relay)
	ctx := context.Background()
	if err := c.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
	relay.DropReplyAfter(cycled(sim), true)
	err := c.PowerCycle(ctx)
	if !errors.Is(err, bmc.ErrOutcomeUnknown) || !strings.Contains(err.Error(), "outcome unknown") {
		t.Fatalf("err = %v, want ErrOutcomeUnknown", err)
	}
	if n := sim.ChassisSets("power 0"); n != 1 {
		t.Fatalf("the chassis powered off %d times, want one power cycle", n)
	}
	// The cycle's try, then Attempts tries to read the state.
	if n := attempts(t, err); n != 4 {
		t.Fatalf("%d attempts, want 4", n)
	}
	t.Log(err)
}

// TestIPMIUnspecifiedErrorIsNotRetried: ipmi_sim answers 0xff when its chassis fails; a retry
// cannot help, so the command is sent once.
func TestIPMIUnspecifiedErrorIsNotRetried(t *testing.T) {
	sim := bmctest.StartIPMISim(t)
	c := ipmiClient(t, sim, func(c *bmc.Config) { c.Attempts = 3 })
	sim.FailChassisControl(t, true)
	err := c.PowerOn(context.Background())
	if err == nil || !strings.Contains(err.Error(), "0xff") {
		t.Fatalf("err = %v, want completion code 0xff", err)
	}
	if n := sim.ChassisSets("power 1"); n != 1 || attempts(t, err) != 1 {
		t.Fatalf("%d power ups reached the chassis, %d attempts: want 1", n, attempts(t, err))
	}
}

// TestIPMINeverAnswers: a BMC that answers nothing fails after Attempts tries.
func TestIPMINeverAnswers(t *testing.T) {
	sim := bmctest.StartIPMISim(t)
	relay := bmctest.StartIPMIRelay(t, sim)
	relay.Silence()
	c, _ := loggedClient(t, bmc.Config{Node: "worker-1", Driver: bmc.DriverIPMI, Address: relay.Host, Port: relay.Port,
		Username: sim.Username, Password: sim.Password, Timeout: 600 * time.Millisecond, Attempts: 3, Backoff: 10 * time.Millisecond})
	err := c.PowerCycle(context.Background())
	if err == nil || attempts(t, err) != 3 || relay.Received(t) != 3 {
		t.Fatalf("err %v, %d datagrams: want 3 tries of one datagram each", err, relay.Received(t))
	}
	t.Log(err)
}
