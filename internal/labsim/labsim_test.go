package labsim

import (
	"context"
	"errors"
	"net"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/aisim"
	"github.com/cn2-appliance/cn2-appliance/pkg/bmc"
)

func TestParseFaults(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Faults
		err  string
	}{
		{in: "", want: nil},
		{in: "none", want: nil},
		{in: "bmc-slow,firmware-hang", want: Faults{FirmwareHang, BMCSlow}},
		{in: " token-expiry , bmc-slow,bmc-slow", want: Faults{BMCSlow, TokenExpiry}},
		{in: "all", want: AllFaults},
		{in: "all,bmc-slow", want: AllFaults},
		{in: "firmware-hang,disk-on-fire", err: `unknown fault "disk-on-fire": want a comma-separated list of firmware-hang, power-off-after-write, discovery-after-write, bmc-lost-reply, bmc-slow, installer-5xx, token-expiry, stranger, or all`},
	} {
		got, err := ParseFaults(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ParseFaults(%q) error %v, want %s", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseFaults(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestAssign(t *testing.T) {
	nodes := []string{"master-0", "master-1", "master-2", "worker-0", "worker-1"}
	a1, a2 := Faults(AllFaults).Assign(nodes, 1), Faults(AllFaults).Assign(nodes, 1)
	if !slices.Equal(a1, a2) {
		t.Fatalf("the same seed gave %v and %v", a1, a2)
	}
	hit := map[string]bool{}
	for _, a := range a1 {
		switch {
		case a.Fault.OnNode() && !slices.Contains(nodes, a.Node):
			t.Errorf("%s hits %q", a.Fault, a.Node)
		case !a.Fault.OnNode() && a.Node != "":
			t.Errorf("installer fault %s hits node %q", a.Fault, a.Node)
		case a.Node != "" && hit[a.Node]:
			t.Errorf("two faults on %s while nodes are free: %v", a.Node, a1)
		}
		hit[a.Node] = true
	}
	differs := false
	for seed := uint64(2); seed < 10; seed++ {
		differs = differs || !slices.Equal(a1, Faults(AllFaults).Assign(nodes, seed))
	}
	if !differs {
		t.Error("every seed gives the same assignment")
	}
	one := Faults(AllFaults).Assign([]string{"sno"}, 3)
	for _, a := range one {
		if a.Fault.OnNode() && a.Node != "sno" {
			t.Errorf("single node lab: %s on %q", a.Fault, a.Node)
		}
	}
}

// simNode is a Power in front of a simulator with an infra env, so discovery boots register.
func simNode(t *testing.T, f NodeFaults) (*Power, *aisim.Sim) {
	t.Helper()
	sim, err := aisim.New(aisim.Options{Clock: aisim.NewFakeClock(time.Unix(0, 0))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	resp, err := srv.Client().Post(srv.URL+"/api/assisted-install/v2/infra-envs", "application/json",
		strings.NewReader(`{"name":"ie","pull_secret":"{\"auths\":{\"a\":{\"auth\":\"dTpw\"}}}"}`))
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("infra env: %v %v", resp, err)
	}
	resp.Body.Close()
	p := &Power{Control: srv.URL, MACs: []string{"52:54:00:00:00:41"}, Hostname: "n0", Faults: f}
	if err := p.SetBootDevice(context.Background(), bmc.BootOptions{Device: bmc.BootPXE}); err != nil {
		t.Fatal(err)
	}
	return p, sim
}

type recorder struct {
	mu  sync.Mutex
	got []Fault
}

func (r *recorder) inject(f Fault, _ string) {
	r.mu.Lock()
	r.got = append(r.got, f)
	r.mu.Unlock()
}

func TestFirmwareHang(t *testing.T) {
	var rec recorder
	p, _ := simNode(t, NodeFaults{FirmwareHang: true, Injected: rec.inject})
	ctx := context.Background()
	if err := p.PowerCycle(ctx); err != nil {
		t.Fatal(err)
	}
	if s, err := p.PowerState(ctx); err != nil || s != bmc.PowerOn {
		t.Errorf("hung node: %s %v, want on", s, err)
	}
	if c := p.Counts(); c.FirmwareHangs != 1 || c.DiscoveryBoots != 0 || c.Cycles != 1 {
		t.Errorf("after the hang: %+v", c)
	}
	if err := p.PowerOn(ctx); err != nil || p.Counts().DiscoveryBoots != 0 {
		t.Errorf("power-on of a hung node (on) booted it: %v %+v", err, p.Counts())
	}
	if err := p.PowerCycle(ctx); err != nil {
		t.Fatal(err)
	}
	if c := p.Counts(); c.FirmwareHangs != 1 || c.DiscoveryBoots != 1 || c.Cycles != 2 {
		t.Errorf("after the second cycle: %+v", c)
	}
	if !slices.Equal(rec.got, []Fault{FirmwareHang}) {
		t.Errorf("injections %v", rec.got)
	}
}

func TestLostReply(t *testing.T) {
	var rec recorder
	p, _ := simNode(t, NodeFaults{LostReply: true, Injected: rec.inject})
	ctx := context.Background()
	if err := p.PowerOn(ctx); err != nil { // only cycles lose their replies
		t.Fatal(err)
	}
	err := p.PowerCycle(ctx)
	var ne net.Error
	if err == nil || !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("lost reply: %v, want a timeout", err)
	}
	if c := p.Counts(); c.Cycles != 1 || c.DiscoveryBoots != 2 {
		t.Errorf("the cycle whose reply was lost was not performed: %+v", c)
	}
	if err := p.PowerCycle(ctx); err != nil {
		t.Errorf("second cycle: %v", err)
	}
	if !slices.Equal(rec.got, []Fault{BMCLostReply}) {
		t.Errorf("injections %v", rec.got)
	}
}

func TestSlowReply(t *testing.T) {
	var rec recorder
	p, _ := simNode(t, NodeFaults{SlowReply: time.Hour, Injected: rec.inject})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := p.PowerCycle(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow reply: %v, want the caller's deadline", err)
	}
	if c := p.Counts(); c.Cycles != 1 || c.DiscoveryBoots != 1 {
		t.Errorf("the slow cycle was not performed: %+v", c)
	}
	if err := p.PowerOff(context.Background(), true); err != nil { // once
		t.Errorf("second action: %v", err)
	}
	if !slices.Equal(rec.got, []Fault{BMCSlow}) {
		t.Errorf("injections %v", rec.got)
	}
}

// TestThroughClient drives the simulated BMC through the real client: capabilities, and an
// answer that comes back late but within the client's timeout.
func TestThroughClient(t *testing.T) {
	p, sim := simNode(t, NodeFaults{SlowReply: 20 * time.Millisecond})
	c := bmc.NewWithDriver(bmc.Config{Node: "n0"}, p)
	want := []bmc.Capability{bmc.CapPowerState, bmc.CapPowerOn, bmc.CapPowerOff, bmc.CapPowerCycle, bmc.CapBootDevice, bmc.CapVirtualMedia}
	if got := c.Capabilities(); !slices.Equal(got, want) || c.Driver() != DriverName {
		t.Errorf("capabilities %v (driver %s), want %v", got, c.Driver(), want)
	}
	ctx := context.Background()
	if err := c.PowerCycle(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.InsertMedia(ctx, "http://x/iso"); err != nil {
		t.Fatal(err)
	}
	if err := c.EjectMedia(ctx); err != nil {
		t.Fatal(err)
	}
	if got := p.Counts(); got.Cycles != 1 || got.DiscoveryBoots != 1 {
		t.Errorf("counts %+v", got)
	}
	if _, _, hosts := sim.Counts(); hosts != 0 {
		t.Errorf("%d hosts before the discovery delay", hosts)
	}
}
