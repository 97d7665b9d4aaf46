package rehearsal

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/aisim"
	"github.com/cn2-appliance/cn2-appliance/internal/labsim"
	"github.com/cn2-appliance/cn2-appliance/pkg/bmc"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
)

// The installer-5xx fault: this share of the installer's API calls fail, each answer this late.
const (
	installerErrorRate = 0.2
	installerLatency   = 20 * time.Millisecond
)

// FaultReport is one fault of the rehearsal: where it was injected, when, and what the flow
// (or, for installer faults, the installer client) did about it afterwards.
type FaultReport struct {
	Fault    labsim.Fault
	Node     string        // "" for an installer fault
	Injected bool          // false: it never happened (the rehearsal fails)
	At       time.Duration // since the rehearsal started
	What     string        // what the simulated lab did
	Remedies []Remedy
}

// Remedy is one thing done about a fault: a warning event of the flow on the fault's node
// after the injection, a warning the BMC client logged about a power action on it (its retry
// policy at work), or what the installer saw its client do.
type Remedy struct {
	At   time.Duration // since the rehearsal started; < 0: throughout the install
	By   string        // "flow", "bmc client" or "installer client"
	What string
}

// Boots are a node's boots, as the node saw them.
type Boots struct {
	Discovery     int // the discovery image, over the network
	Disk          int // the installed system
	FirmwareHangs int // started but hung in firmware
}

// NodeReport is what happened to one node: its boots against the boots it should have had,
// and the power cycles its BMC performed against those the flow asked for.
type NodeReport struct {
	Name                string
	Boots, WantBoots    Boots
	FailedBoots         int // network boots that broke off (DHCP, TFTP, HTTP)
	Cycles, CyclesAsked int // performed by the BMC; asked for by the flow (each call once)
	PowerOns, PowerOffs int // performed by the BMC
	Faults              []labsim.Fault
}

// askedPower is a node's BMC client as the flow sees it, counting the power cycles the flow
// asks for: each PowerCycle call once, however many times the client tries it.
type askedPower struct {
	*bmc.Client
	mu     sync.Mutex
	cycles int
}

func (p *askedPower) PowerCycle(ctx context.Context) error {
	p.mu.Lock()
	p.cycles++
	p.mu.Unlock()
	return p.Client.PowerCycle(ctx)
}

func (p *askedPower) asked() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cycles
}

// faultPlan is the rehearsal's faults: which node gets which (from the seed), the hooks that
// inject them into the simulated lab and record them, and the counts that show whether the
// flow healed them without overdoing it.
type faultPlan struct {
	start       time.Time
	names       []string // the lab's nodes, in its order
	assignments []labsim.Assignment
	injections  labsim.Injections
	sim         *aisim.Sim
	nodes       map[string]*labsim.NetNode
	power       map[string]*askedPower
	macNode     map[string]string // a node's first MAC, lower case → its name
	bmcLog      *bmcWarnings
	expire      sync.Once
	done        chan struct{} // closed when the rehearsal ends
}

func newFaultPlan(faults labsim.Faults, seed uint64, nodeNames []string, start time.Time) *faultPlan {
	return &faultPlan{start: start, names: nodeNames, assignments: faults.Assign(nodeNames, seed), done: make(chan struct{})}
}

func (p *faultPlan) has(f labsim.Fault, node string) bool {
	return slices.Contains(p.assignments, labsim.Assignment{Fault: f, Node: node})
}

// onNode lists the faults that hit node.
func (p *faultPlan) onNode(node string) []labsim.Fault {
	var out []labsim.Fault
	for _, a := range p.assignments {
		if a.Node == node {
			out = append(out, a.Fault)
		}
	}
	return out
}

// simOptions adds the installer side of the faults to the simulator's options: the hooks
// that record a node's power-off or discovery boot after writing, the token expiry when the
// cluster starts installing, and the failing API calls.
func (p *faultPlan) simOptions(o *aisim.Options, seed uint64) {
	o.Seed = seed
	o.OnPowerOff = func(mac string) {
		if n := p.macNode[strings.ToLower(mac)]; p.has(labsim.PowerOffAfterWrite, n) {
			p.injections.Record(labsim.PowerOffAfterWrite, n, "powered off instead of rebooting after writing its disk")
		}
	}
	o.OnPendingUserAction = func(mac string) {
		if n := p.macNode[strings.ToLower(mac)]; p.has(labsim.DiscoveryAfterWrite, n) {
			p.injections.Record(labsim.DiscoveryAfterWrite, n, "booted the discovery image after writing its disk: host installing-pending-user-action")
		}
	}
	if p.has(labsim.TokenExpiry, "") {
		o.OnClusterStatus = func(_, status string) {
			if status != "installing" {
				return
			}
			p.expire.Do(func() {
				p.sim.ExpireAccessTokens()
				p.injections.Record(labsim.TokenExpiry, "", "every access token expired as the cluster started installing")
			})
		}
	}
	if p.has(labsim.Installer5xx, "") {
		o.Faults = aisim.Faults{ErrorRate: installerErrorRate, Latency: installerLatency}
	}
}

// arm sets the node faults up on the simulated nodes and the simulator, before anything boots.
func (p *faultPlan) arm(sim *aisim.Sim, nodes map[string]*labsim.NetNode, power map[string]*askedPower) {
	p.sim, p.nodes, p.power = sim, nodes, power
	p.macNode = map[string]string{}
	for name, n := range nodes {
		p.macNode[strings.ToLower(n.MACs[0])] = name
		n.Faults = labsim.NodeFaults{
			FirmwareHang: p.has(labsim.FirmwareHang, name),
			LostReply:    p.has(labsim.BMCLostReply, name),
			Injected: func(f labsim.Fault, what string) {
				p.injections.Record(f, name, what)
			},
		}
		if p.has(labsim.BMCSlow, name) {
			n.Faults.SlowReply = labsim.SlowReply
		}
		if p.has(labsim.PowerOffAfterWrite, name) {
			sim.PowerOffOnReboot(n.MACs[0])
		}
		if p.has(labsim.DiscoveryAfterWrite, name) {
			sim.BootDiscoveryAfterWrite(n.MACs[0])
		}
	}
	if p.has(labsim.Stranger, "") {
		go p.bootStranger()
	}
	if p.has(labsim.Installer5xx, "") {
		p.injections.Record(labsim.Installer5xx, "", fmt.Sprintf("%.0f%% of the installer's API calls fail with a 5xx after %s, from the start",
			100*installerErrorRate, installerLatency))
	}
}

// strangerMAC is the stranger's NIC: in no lab node.
const strangerMAC = "52:54:00:5e:e5:01"

// bootStranger boots a machine the lab does not declare into the discovery image once the
// infra env exists, as someone's discovery ISO would (the appliance's PXE never offers it one).
func (p *faultPlan) bootStranger() {
	for range 6000 { // a bound: ten minutes
		select {
		case <-p.done:
			return
		case <-time.After(100 * time.Millisecond):
		}
		if _, envs, _ := p.sim.Counts(); envs == 0 {
			continue
		}
		if err := p.sim.NodeBooted(aisim.Node{MACs: []string{strangerMAC}, Hostname: "stranger", Serial: "NOT-IN-THE-LAB"}); err == nil {
			p.injections.Record(labsim.Stranger, "", "a machine the lab does not declare ("+strangerMAC+") booted the discovery image")
		}
		return
	}
}

// strangerProblem says whether the stranger was ever part of the install.
func (p *faultPlan) strangerProblem() string {
	if !p.has(labsim.Stranger, "") {
		return ""
	}
	switch status := p.sim.HostStatus(strangerMAC); {
	case strings.HasPrefix(status, "installing"), status == "installed", status == "preparing-for-installation", status == "preparing-successful":
		return "the stranger's host (" + strangerMAC + ") is " + status + ": a host that is not a lab node was installed"
	}
	return ""
}

// resent reports whether a node's BMC performed more power cycles than the flow asked for: a
// cycle was sent again.
func (p *faultPlan) resent() bool {
	for _, name := range p.names {
		if p.nodes[name].Counts().Cycles > p.power[name].asked() {
			return true
		}
	}
	return false
}

// wantBoots is how a node with these faults boots when the flow does right: once into the
// discovery image; once from disk for each fault that needs the flow to boot the installed
// system (after a power-off, after a discovery boot); and one firmware hang.
func wantBoots(faults []labsim.Fault) Boots {
	b := Boots{Discovery: 1}
	for _, f := range faults {
		switch f {
		case labsim.PowerOffAfterWrite, labsim.DiscoveryAfterWrite:
			b.Disk++
		case labsim.FirmwareHang:
			b.FirmwareHangs++
		}
	}
	return b
}

// nodeReports counts every node's boots and power cycles.
func (p *faultPlan) nodeReports() []NodeReport {
	var out []NodeReport
	for _, name := range p.names {
		c := p.nodes[name].Counts()
		faults := p.onNode(name)
		out = append(out, NodeReport{
			Name:        name,
			Boots:       Boots{Discovery: c.DiscoveryBoots, Disk: c.DiskBoots, FirmwareHangs: c.FirmwareHangs},
			WantBoots:   wantBoots(faults),
			FailedBoots: c.FailedBoots,
			Cycles:      c.Cycles, CyclesAsked: p.power[name].asked(),
			PowerOns: c.PowerOns, PowerOffs: c.PowerOffs,
			Faults: faults,
		})
	}
	return out
}

// faultReports pairs every planned fault with its injection and the remedies after it: the
// flow's warnings and the BMC client's power-action warnings about the fault's node from the
// injection on (up to the next injection on that node, when several faults share one), and
// for installer faults what the installer saw.
func (p *faultPlan) faultReports(events []store.Event) []FaultReport {
	injected := p.injections.List()
	since := func(t time.Time) time.Duration { return t.Sub(p.start).Round(10 * time.Millisecond) }
	var out []FaultReport
	for _, a := range p.assignments {
		r := FaultReport{Fault: a.Fault, Node: a.Node}
		var from, until time.Time // the injection, and the next one on the same node
		for _, in := range injected {
			switch {
			case !r.Injected && in.Fault == a.Fault && in.Node == a.Node:
				r.Injected, r.At, r.What, from = true, since(in.At), in.What, in.At
			case r.Injected && until.IsZero() && a.Node != "" && in.Node == a.Node:
				until = in.At
			}
		}
		if !r.Injected {
			out = append(out, r)
			continue
		}
		for _, e := range events {
			if e.Source != "flow" || e.Level != "warn" || e.Node != a.Node || e.Time.Before(from) || (!until.IsZero() && !e.Time.Before(until)) {
				continue
			}
			r.Remedies = append(r.Remedies, Remedy{At: since(e.Time), By: "flow", What: e.Message})
		}
		if p.bmcLog != nil && a.Node != "" {
			for _, w := range p.bmcLog.warnings() {
				if w.node == a.Node && !w.at.Before(from) && (until.IsZero() || w.at.Before(until)) {
					r.Remedies = append(r.Remedies, Remedy{At: since(w.at), By: "bmc client", What: w.what})
				}
			}
			slices.SortStableFunc(r.Remedies, func(x, y Remedy) int { return cmp.Compare(x.At, y.At) })
		}
		r.Remedies = append(r.Remedies, p.installerRemedies(a.Fault, from)...)
		out = append(out, r)
	}
	return out
}

// installerRemedies is what the installer saw the appliance's client do about an installer
// fault: call again after a failure, fetch a new access token.
func (p *faultPlan) installerRemedies(f labsim.Fault, from time.Time) []Remedy {
	switch f {
	case labsim.Installer5xx:
		st := p.sim.Stats()
		return []Remedy{{At: -1, By: "installer client", What: fmt.Sprintf("%d of %d API calls failed and were made again", st.FaultsServed, st.Requests)}}
	case labsim.TokenExpiry:
		for _, g := range p.sim.TokenGrants() {
			if !g.Before(from) {
				return []Remedy{{At: g.Sub(p.start).Round(10 * time.Millisecond), By: "installer client", What: "fetched a new access token"}}
			}
		}
	}
	return nil
}
