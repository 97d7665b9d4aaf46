package labsim

import (
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"
)

// Fault is one named thing that goes wrong in the simulated lab. Node faults hit one node
// (its firmware, its BMC, or how the installer sees its host); installer faults hit the whole
// simulated service.
type Fault string

// The faults the rehearsal can inject.
const (
	// FirmwareHang: the node's first power-on or cycle turns it on, but it hangs in firmware and
	// never sends DHCP; a later cycle boots it normally.
	FirmwareHang Fault = "firmware-hang"
	// PowerOffAfterWrite: the node powers off instead of rebooting once its image is written.
	PowerOffAfterWrite Fault = "power-off-after-write"
	// DiscoveryAfterWrite: at its reboot after writing the image the node boots the discovery
	// image again; its host waits in installing-pending-user-action until it boots from disk.
	DiscoveryAfterWrite Fault = "discovery-after-write"
	// BMCLostReply: the BMC performs the node's first power cycle, but the reply is lost.
	BMCLostReply Fault = "bmc-lost-reply"
	// BMCSlow: the BMC performs its first power action (on, off, cycle) and answers 15 s later.
	BMCSlow Fault = "bmc-slow"
	// Installer5xx: 20 % of the installer's API calls fail with a 5xx after a delay.
	Installer5xx Fault = "installer-5xx"
	// TokenExpiry: every access token expires when the cluster starts installing.
	TokenExpiry Fault = "token-expiry"
	// Stranger: a machine the lab does not declare boots the discovery image (someone's ISO)
	// and registers with the cluster's infra env.
	Stranger Fault = "stranger"
)

// AllFaults are every fault, in the order they are assigned and reported.
var AllFaults = []Fault{FirmwareHang, PowerOffAfterWrite, DiscoveryAfterWrite, BMCLostReply, BMCSlow, Installer5xx, TokenExpiry, Stranger}

// SlowReply is how late a slow BMC answers.
const SlowReply = 15 * time.Second

// OnNode reports whether the fault hits one node (false: the installer as a whole).
func (f Fault) OnNode() bool { return f != Installer5xx && f != TokenExpiry && f != Stranger }

// Faults is a set of faults, in AllFaults order.
type Faults []Fault

// ParseFaults reads a comma-separated list of fault names, or "all"; "" and "none" are no
// faults. Unknown names are an error that lists the valid ones.
func ParseFaults(s string) (Faults, error) {
	var out Faults
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		switch {
		case name == "" || name == "none":
		case name == "all":
			out = append(out, AllFaults...)
		case slices.Contains(AllFaults, Fault(name)):
			out = append(out, Fault(name))
		default:
			return nil, fmt.Errorf("unknown fault %q: want a comma-separated list of %s, or all", name, Faults(AllFaults))
		}
	}
	var set Faults
	for _, f := range AllFaults {
		if slices.Contains(out, f) {
			set = append(set, f)
		}
	}
	return set, nil
}

// Has reports whether f is in the set.
func (fs Faults) Has(f Fault) bool { return slices.Contains(fs, f) }

func (fs Faults) String() string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = string(f)
	}
	return strings.Join(names, ", ")
}

// Assignment says which node a fault hits; Node is "" for an installer fault.
type Assignment struct {
	Fault Fault
	Node  string
}

// Assign chooses, from seed alone, which of nodes each node fault hits: the nodes are
// shuffled and the node faults take them in turn, so they hit different nodes while there are
// enough and share them (and compose) when there are not. The same seed, faults and nodes
// always give the same assignment.
func (fs Faults) Assign(nodes []string, seed uint64) []Assignment {
	order := slices.Clone(nodes)
	rng := mrand.New(mrand.NewPCG(seed, seed^0x5eed0f4a17))
	rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	var out []Assignment
	next := 0
	for _, f := range fs {
		a := Assignment{Fault: f}
		if f.OnNode() && len(order) > 0 {
			a.Node = order[next%len(order)]
			next++
		}
		out = append(out, a)
	}
	return out
}

// Injection is one fault that happened: which, to which node ("" for the installer), when,
// and what exactly the simulated lab did.
type Injection struct {
	Fault Fault
	Node  string
	At    time.Time
	What  string
}

// Injections records the faults as they happen; safe for concurrent use.
type Injections struct {
	mu   sync.Mutex
	list []Injection
}

// Record notes that f happened to node now.
func (r *Injections) Record(f Fault, node, what string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, Injection{Fault: f, Node: node, At: time.Now(), What: what})
}

// List returns the injections so far, oldest first.
func (r *Injections) List() []Injection {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.list)
}
