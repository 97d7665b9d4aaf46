package flow_test

import (
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/aisim"
	"github.com/cn2-appliance/cn2-appliance/internal/labsim"
	"github.com/cn2-appliance/cn2-appliance/internal/testlab"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/flow"
)

// wideLab is the example lab with its networks widened to /16 and workers added up to n nodes.
func wideLab(t *testing.T, n int) *config.Lab {
	t.Helper()
	lab := testlab.Copy(testlab.Example(t))
	for i := range lab.Networks {
		nw := &lab.Networks[i]
		nw.CIDR = netip.PrefixFrom(nw.CIDR.Addr(), 16).Masked()
		if nw.CIDR.Contains(lab.Cluster.MachineNetwork.Addr()) {
			lab.Cluster.MachineNetwork = nw.CIDR
		}
	}
	workers, err := labsim.NewWorkers(lab, n-len(lab.Nodes))
	if err != nil {
		t.Fatal(err)
	}
	lab.Nodes = append(slices.Clone(lab.Nodes), workers...)
	return lab
}

// TestPollWorkIsLinear installs a 200-node lab and counts every poll's work: the installer's
// hosts are indexed at most once per poll, each host's inventory is decoded exactly once in
// that poll, and no host is named in more than one installer call per poll interval.
func TestPollWorkIsLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("installs 200 simulated nodes")
	}
	const nodes, interval = 200, 40 * time.Millisecond
	lab := wideLab(t, nodes)
	sim, url := newSim(t, aisim.Options{})
	var mu sync.Mutex
	var polls []flow.PollReport
	f, st := newFlowDeps(t, lab, url, t.TempDir(), t.TempDir(), &fakeBoot{}, slog.New(slog.DiscardHandler), nil, func(d *flow.Deps) {
		d.PollInterval = interval
		d.OnPoll = func(r flow.PollReport) { mu.Lock(); polls = append(polls, r); mu.Unlock() }
	})
	defer st.Close()
	runToEnd(t, f)
	if _, _, h := sim.Counts(); h != nodes {
		t.Fatalf("the simulator holds %d hosts, want %d", h, nodes)
	}
	mu.Lock()
	defer mu.Unlock()
	full := 0
	for _, p := range polls {
		if p.Indexes > 1 || p.Decodes != int64(p.Hosts) {
			t.Errorf("poll of %s indexed the hosts %d times (%d hosts) and decoded %d inventories; want at most once, one decode per host",
				p.Step, p.Indexes, p.Hosts, p.Decodes)
		}
		if p.Hosts == nodes {
			full++
		}
	}
	if full == 0 {
		t.Errorf("no poll saw all %d hosts (%d polls)", nodes, len(polls))
	}
	if calls, host := sim.MaxHostCalls(interval); calls > 1 {
		t.Errorf("host %s was named in %d installer calls within one poll interval (%s); want at most 1", host, calls, interval)
	}
}
