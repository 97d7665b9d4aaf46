package flow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
	"github.com/cn2-appliance/cn2-appliance/pkg/bmc"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
)

// NodeRecord is what the flow knows and did about one node. It is kept in the store, and a
// power action is recorded in it before it is sent, so a crash never repeats one blindly.
type NodeRecord struct {
	// Progress is the node's installer status and stage as last seen; Progressed is when it
	// last changed. Progress resets the ladder.
	Progress   string    `json:"progress,omitempty"`
	Progressed time.Time `json:"progressed,omitzero"`
	// Boots counts the boots into the discovery image the flow sent.
	Boots int `json:"boots"`
	// LastAction is when the last power action was sent.
	LastAction time.Time `json:"lastAction,omitzero"`
	// Remedies counts the remedies since the node last made progress; RemediesApplied all of them.
	Remedies        int `json:"remedies"`
	RemediesApplied int `json:"remediesApplied"`
	// Pending names a power action recorded but not known to be sent.
	Pending string `json:"pending,omitempty"`
	// DiskBoot says the node boots from disk from now on.
	DiskBoot bool `json:"diskBoot,omitempty"`
	// Attention says why the node needs the operator; "" when it does not.
	Attention string `json:"attention,omitempty"`
	// LastError is the last power action's error.
	LastError string `json:"lastError,omitempty"`
	// History is the remedies applied, oldest first (the last maxHistory).
	History []Remedy `json:"history,omitempty"`
}

// Remedy is one remedy (or resumed boot) the flow applied to a node.
type Remedy struct {
	At     time.Time `json:"at"`
	Action Action    `json:"action"`
	Reason string    `json:"reason"`
	Err    string    `json:"err,omitempty"`
}

const (
	docNodesKey = "nodes"
	maxHistory  = 20
)

// powerParallelism bounds the BMC calls one poll sends at once (assistedInstaller.powerParallelism).
func (f *Flow) powerParallelism() int {
	if n := f.d.Lab.AssistedInstaller.PowerParallelism; n > 0 {
		return n
	}
	return config.DefaultPowerParallelism
}

// Nodes returns a copy of every node's record, by node name.
func (f *Flow) Nodes() map[string]NodeRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]NodeRecord, len(f.nodes))
	for k, v := range f.nodes {
		v.History = slices.Clone(v.History)
		out[k] = v
	}
	return out
}

// saveNodes changes node records and keeps them in the store; the change counts once saved.
func (f *Flow) saveNodes(change func(map[string]NodeRecord)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	next := maps.Clone(f.nodes)
	if next == nil {
		next = map[string]NodeRecord{}
	}
	change(next)
	if err := f.d.Store.PutDoc(docKind, docNodesKey, next); err != nil {
		return fmt.Errorf("flow: save node records: %w", err)
	}
	f.nodes = next
	return nil
}

// ClearAttention forgets that nodes need attention and restarts their ladders (the lab
// changed, so the operator may have fixed what the ladder could not).
func (f *Flow) ClearAttention() error {
	return f.saveNodes(func(m map[string]NodeRecord) {
		for name, r := range m {
			if r.Attention != "" {
				r.Attention, r.Remedies = "", 0
				m[name] = r
			}
		}
	})
}

// hostIndex finds installer hosts by MAC; each host's inventory is parsed once per poll.
type hostIndex map[string]*ai.Host

func indexHosts(hosts []ai.Host) hostIndex {
	ix := make(hostIndex, len(hosts))
	for i := range hosts {
		for _, mac := range hosts[i].MACs() {
			ix[mac] = &hosts[i]
		}
	}
	return ix
}

// of is the host of a node, found by any of its MACs; nil when it has not registered.
func (ix hostIndex) of(n config.Node) *ai.Host {
	for _, nic := range n.NICs {
		if h := ix[strings.ToLower(string(nic.MAC))]; h != nil {
			return h
		}
	}
	return nil
}

// nodeNames maps each lab node's host (nodes that registered) to the node's name.
func (f *Flow) nodeNames(ix hostIndex) map[*ai.Host]string {
	out := map[*ai.Host]string{}
	for _, n := range f.d.Lab.Nodes {
		if h := ix.of(n); h != nil {
			out[h] = n.Name
		}
	}
	return out
}

// node is one node's record.
func (f *Flow) node(name string) NodeRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.nodes[name]
}

func progressKey(h *ai.Host) string {
	if h == nil {
		return ""
	}
	if h.Progress != nil && h.Progress.CurrentStage != "" {
		return h.Status + "/" + h.Progress.CurrentStage
	}
	return h.Status
}

func stageOf(h *ai.Host) string {
	if h == nil || h.Progress == nil {
		return ""
	}
	return h.Progress.CurrentStage
}

func (f *Flow) limits() limits {
	ai := f.d.Lab.AssistedInstaller
	return limits{boot: ai.Timeouts.NodeBoot.D(), settle: 3 * f.d.PollInterval, attempts: ai.RemedyAttempts}
}

// planned is one node's decision at one poll.
type planned struct {
	node config.Node
	decision
	err error
}

// reconcile is one poll of the per-node ladder: it notes each node's progress, decides what
// each needs next, records the power actions before sending them, sends them (a bounded
// number at once), and records their outcome.
func (f *Flow) reconcile(ctx context.Context, phase Phase, nodes []config.Node, ix hostIndex) error {
	now := time.Now()
	recs := f.Nodes()
	changed := false
	var notes []string
	for _, n := range nodes {
		r, key := recs[n.Name], progressKey(ix.of(n))
		f.markHost(n.Name, ix.of(n))
		if key == r.Progress {
			continue
		}
		if r.Attention != "" {
			notes = append(notes, n.Name)
		}
		r.Progress, r.Progressed, r.Remedies, r.Attention = key, now, 0, ""
		recs[n.Name] = r
		changed = true
	}
	sits := f.situations(phase, nodes, ix, recs, now)
	lim := f.limits()
	var plan []planned
	var read []int
	for i, s := range sits {
		d := decide(s, lim)
		if d.action == ActReadPower {
			read = append(read, i)
		}
		plan = append(plan, planned{node: nodes[i], decision: d})
	}
	f.readPower(ctx, nodes, sits, read)
	for _, i := range read {
		plan[i].decision = decide(sits[i], lim)
	}

	var send []int
	for i, p := range plan {
		r := recs[p.node.Name]
		switch {
		case p.action == ActAttention:
			r.Attention = p.reason
		case p.action.sendsPower():
			r.Pending, r.LastAction = string(p.action), now
			if p.action == ActBoot || p.action == ActReboot {
				r.Boots++
			}
			if p.action.isRemedy() {
				r.Remedies++
			}
			send = append(send, i)
		case p.action == ActDiskBoot:
			send = append(send, i)
			continue
		default:
			continue
		}
		recs[p.node.Name] = r
		changed = true
	}
	if changed {
		if err := f.saveNodes(func(m map[string]NodeRecord) { maps.Copy(m, recs) }); err != nil {
			return err
		}
	}
	for _, name := range notes {
		f.event(slog.LevelInfo, name, "makes progress again: no longer needs attention")
	}
	for _, p := range plan {
		if p.action == ActAttention {
			f.markAttention(p.node.Name, p.reason)
			f.event(slog.LevelError, p.node.Name, "needs attention: "+p.reason)
		}
	}
	if len(send) == 0 {
		return nil
	}

	var wg sync.WaitGroup
	sem := make(chan struct{}, f.powerParallelism())
	for _, i := range send {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			plan[i].err = f.apply(ctx, plan[i].node, plan[i].action)
		}()
	}
	wg.Wait()
	return f.recordOutcomes(plan, send, now)
}

// situations builds each node's situation; in the install, a node is compared with its peers
// (counted per stage, so a poll's work stays linear in the nodes).
func (f *Flow) situations(phase Phase, nodes []config.Node, ix hostIndex, recs map[string]NodeRecord, now time.Time) []situation {
	stageIdx := make([]int, len(nodes))
	atOrBeyond := make([]int, len(installStages)+1) // atOrBeyond[k]: nodes at stage k or later
	for i, n := range nodes {
		stageIdx[i] = slices.Index(installStages, stageOf(ix.of(n)))
		if stageIdx[i] >= 0 {
			atOrBeyond[stageIdx[i]]++
		}
	}
	for k := len(installStages) - 1; k >= 0; k-- {
		atOrBeyond[k] += atOrBeyond[k+1]
	}
	out := make([]situation, len(nodes))
	for i, n := range nodes {
		h := ix.of(n)
		s := situation{phase: phase, registered: h != nil, rec: recs[n.Name], now: now}
		if h != nil {
			s.status, s.stage = h.Status, stageOf(h)
		}
		if k := stageIdx[i]; (phase == PhaseInstall || phase == PhaseDay2Install) && k >= 0 {
			s.peers, s.peersAhead = atOrBeyond[0]-1, atOrBeyond[k+1]
		}
		out[i] = s
	}
	return out
}

// readPower reads the power state of the nodes at idx, a bounded number at once; a state
// that cannot be read is unknown.
func (f *Flow) readPower(ctx context.Context, nodes []config.Node, sits []situation, idx []int) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, f.powerParallelism())
	for _, i := range idx {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			sits[i].power = bmc.PowerUnknown
			p, ok := f.power(nodes[i].Name)
			if !ok {
				return
			}
			state, err := p.PowerState(ctx)
			if err != nil {
				f.d.Log.Warn("flow: power state unknown", "node", nodes[i].Name, "err", err)
				return
			}
			sits[i].power = state
		}()
	}
	wg.Wait()
}

// apply sends one node's action to its BMC and boot service.
func (f *Flow) apply(ctx context.Context, n config.Node, a Action) error {
	switch a {
	case ActBoot, ActReboot:
		return f.bootDiscovery(ctx, n, powerCycle)
	case ActResume: // whether the cycle went out is unknown: the boot device again, and on
		if f.node(n.Name).DiskBoot {
			return f.bootFromDisk(ctx, n, powerOnOnly)
		}
		return f.bootDiscovery(ctx, n, powerOnOnly)
	case ActPowerOn:
		p, ok := f.power(n.Name)
		if !ok {
			return errNoPower(n)
		}
		return p.PowerOn(ctx)
	case ActBootDisk:
		return f.bootFromDisk(ctx, n, powerCycle)
	case ActDiskBoot:
		return f.bootFromDisk(ctx, n, powerKeep)
	}
	return nil
}

// powerStep is what a boot ends with, once the boot device is set.
type powerStep int

const (
	powerKeep   powerStep = iota // no power action: the next boot uses the device
	powerOnOnly                  // power on if off (idempotent)
	powerCycle                   // restart now (or power on if off)
)

// endBoot ends a boot set-up with its power step.
func endBoot(ctx context.Context, p Power, step powerStep) error {
	switch step {
	case powerOnOnly:
		return p.PowerOn(ctx)
	case powerCycle:
		return p.PowerCycle(ctx)
	}
	return nil
}

func errNoPower(n config.Node) error { return fmt.Errorf("node %s has no power driver", n.Name) }

// permanentBMC says whether a BMC error needs the operator: retrying cannot help.
func permanentBMC(err error) bool { return bmc.IsPermanent(err) }

// recordOutcomes keeps what the sent actions did, and says it in the event log.
func (f *Flow) recordOutcomes(plan []planned, sent []int, at time.Time) error {
	err := f.saveNodes(func(m map[string]NodeRecord) {
		for _, i := range sent {
			p := plan[i]
			r := m[p.node.Name]
			r.Pending, r.LastError = "", ""
			if p.err != nil {
				r.LastError = p.err.Error()
				// A cycle whose outcome is unknown may have booted the node: it counts as sent,
				// and the ladder looks again after the node's boot timeout.
				if p.action == ActBoot && !errors.Is(p.err, bmc.ErrOutcomeUnknown) {
					r.Boots-- // not booted: a later poll tries again, after the settle time
					r.Remedies++
				}
				if permanentBMC(p.err) {
					r.Attention = "its BMC refuses: " + p.err.Error()
				}
			} else if p.action == ActDiskBoot || p.action == ActBootDisk {
				r.DiskBoot = true
			}
			if p.action.isRemedy() || p.action == ActResume {
				r.RemediesApplied++
				rem := Remedy{At: at, Action: p.action, Reason: p.reason}
				if p.err != nil {
					rem.Err = p.err.Error()
				}
				r.History = append(r.History, rem)
				if len(r.History) > maxHistory {
					r.History = r.History[len(r.History)-maxHistory:]
				}
			}
			m[p.node.Name] = r
		}
	})
	for _, i := range sent {
		p := plan[i]
		f.markAction(p, at)
		switch {
		case p.err != nil && permanentBMC(p.err):
			f.event(slog.LevelError, p.node.Name, fmt.Sprintf("needs attention: %s failed and retrying cannot help: %v", p.action, p.err))
		case p.err != nil:
			f.event(slog.LevelWarn, p.node.Name, fmt.Sprintf("%s failed: %v", p.action, p.err))
		case p.action.isRemedy() || p.action == ActResume:
			f.event(slog.LevelWarn, p.node.Name, fmt.Sprintf("remedy %s: %s", p.action, p.reason))
		case p.action == ActBoot:
			f.event(slog.LevelInfo, p.node.Name, fmt.Sprintf("booting the discovery image (%s)", p.node.BootMethod))
		case p.action == ActDiskBoot:
			f.event(slog.LevelInfo, p.node.Name, p.reason)
		}
	}
	return err
}
