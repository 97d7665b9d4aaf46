// Package timeline keeps, per lab node, the timestamped milestones the appliance sees on the
// way from power-on to installed: DHCP replies per NIC, TFTP and HTTP boot files served (with
// their transfer rate), ISO range reads, power actions and their results, the installer's
// host status and stage, validations that changed, remedies and stalls, the switch to disk
// boot.
//
// The services report milestones through Recorder, whose Record never blocks: DHCP and TFTP
// call it on their reply paths. Milestones name their node, or a MAC or IP address that Log
// maps to a node through the lab (SetLab); those of no lab node are not kept. Log keeps every
// node's newest MaxPerNode entries in memory and in the store (kind "timeline", one bounded
// list per node), written by Run in batches off the callers' paths. It does not import any
// service and decides nothing: it records.
package timeline

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/store"
)

// Limits.
const (
	// MaxPerNode is how many milestones a node keeps, in memory and in the store; older ones are
	// dropped (a node looping in DHCP keeps its newest).
	MaxPerNode = 1000
	// QueueSize is how many milestones may wait to be written; beyond it, new ones are kept in
	// memory but not written (counted by Dropped), so a storm never slows a caller.
	QueueSize = 8192
	// FlushInterval is how often Run writes what is queued, in one store transaction.
	FlushInterval = time.Second
)

// storeKind is the store's keyed-log kind of the timelines.
const storeKind = "timeline"

// Kind says what a milestone is.
type Kind string

// Milestone kinds.
const (
	KindDHCP       Kind = "dhcp"       // a DHCP reply: Detail "DISCOVER → OFFER 172.16.0.11 (ctrl)"
	KindTFTP       Kind = "tftp"       // a file sent over TFTP (Bytes, Duration)
	KindScript     Kind = "script"     // an iPXE script fetched over HTTP (Detail: its profile)
	KindFile       Kind = "file"       // a boot file served over HTTP: kernel, initrd, rootfs (Bytes, Duration)
	KindISO        Kind = "iso"        // a (range) read of the discovery ISO, by a BMC's virtual media
	KindPower      Kind = "power"      // a power action the flow sent, and its result (Err)
	KindRemedy     Kind = "remedy"     // a remedy of the flow's ladder (a stall it found): Detail why
	KindAttention  Kind = "attention"  // the ladder gave up: the node needs the operator
	KindHost       Kind = "host"       // the installer's host status changed: Detail "status" or "status/stage"
	KindValidation Kind = "validation" // one host validation changed: Subject its id, Detail its status
	KindDiskBoot   Kind = "disk-boot"  // the node boots from disk from now on
)

// stateKinds are kinds whose milestones report a state: one equal to the last for the same
// node, kind and subject is not a milestone and is not kept.
var stateKinds = []Kind{KindHost, KindValidation}

// Milestone is one thing that happened to a node.
type Milestone struct {
	// Time is when it happened; zero: when Record is called.
	Time time.Time
	// Node is the node's name; when the caller does not know it, MAC (any of its NICs) or IP
	// (an address of its NICs or of its BMC) names it.
	Node, MAC, IP string
	Kind          Kind
	// Subject is what a state kind's milestone is about (a validation's id); "" otherwise.
	Subject string
	// Detail says what happened, in words.
	Detail string
	// Err is the error of an action that failed.
	Err string
	// Bytes and Duration are a transfer's size and how long it took.
	Bytes    int64
	Duration time.Duration
}

// Recorder takes milestones. Record must not block and is safe for concurrent use; the
// services call it once per milestone, on their hot paths.
type Recorder interface {
	Record(Milestone)
}

// Discard is a Recorder that keeps nothing (the services' default).
var Discard Recorder = discard{}

type discard struct{}

func (discard) Record(Milestone) {}

// Entry is a kept milestone, as the API and the report show it.
type Entry struct {
	Time     time.Time     `json:"time"`
	Kind     Kind          `json:"kind"`
	Subject  string        `json:"subject,omitempty"`
	Detail   string        `json:"detail,omitempty"`
	Err      string        `json:"error,omitempty"`
	MAC      string        `json:"mac,omitempty"`
	IP       string        `json:"ip,omitempty"`
	Bytes    int64         `json:"bytes,omitempty"`
	Duration time.Duration `json:"durationNanoseconds,omitempty"`
	// Rate is Bytes per second of Duration (transfers only).
	Rate float64 `json:"bytesPerSecond,omitempty"`
}

// Node names a lab node and the addresses it is known by.
type Node struct {
	Name string
	MACs []string // any case
	IPs  []string // its NICs' and its BMC's
}

// Log is the timelines of the lab's nodes. Record may be called before Run; Run writes.
type Log struct {
	st  *store.Store
	log *slog.Logger

	names atomic.Pointer[resolver]

	mu     sync.Mutex
	nodes  map[string][]Entry
	last   map[stateKey]string // the last detail of each state
	queue  map[string][]any    // not yet written, by node
	queued int

	dropped atomic.Uint64
	ignored atomic.Uint64
}

type stateKey struct {
	node    string
	kind    Kind
	subject string
}

type resolver struct {
	byMAC, byIP map[string]string
	known       map[string]bool
}

// Open loads the timelines kept in st.
func Open(st *store.Store, log *slog.Logger) (*Log, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &Log{st: st, log: log, nodes: map[string][]Entry{}, last: map[stateKey]string{}, queue: map[string][]any{}}
	l.names.Store(&resolver{})
	keys, err := st.LogKeys(storeKind)
	if err != nil {
		return nil, fmt.Errorf("timeline: %w", err)
	}
	for _, node := range keys {
		raw, err := st.Log(storeKind, node)
		if err != nil {
			return nil, fmt.Errorf("timeline: %w", err)
		}
		entries := make([]Entry, 0, len(raw))
		for _, r := range raw {
			var e Entry
			if err := json.Unmarshal(r, &e); err != nil {
				return nil, fmt.Errorf("timeline: node %s: decode entry: %w", node, err)
			}
			entries = append(entries, e)
			if slices.Contains(stateKinds, e.Kind) {
				l.last[stateKey{node, e.Kind, e.Subject}] = e.Detail
			}
		}
		l.nodes[node] = entries
	}
	return l, nil
}

// SetLab says which nodes the lab has and their addresses; milestones that name none of them
// are not kept from now on. Timelines of nodes no longer in the lab stay readable.
func (l *Log) SetLab(nodes []Node) {
	r := &resolver{byMAC: map[string]string{}, byIP: map[string]string{}, known: map[string]bool{}}
	for _, n := range nodes {
		r.known[n.Name] = true
		for _, m := range n.MACs {
			r.byMAC[strings.ToLower(m)] = n.Name
		}
		for _, ip := range n.IPs {
			if ip != "" {
				r.byIP[ip] = n.Name
			}
		}
	}
	l.names.Store(r)
}

func (r *resolver) node(m Milestone) string {
	switch {
	case m.Node != "":
		if r.known[m.Node] {
			return m.Node
		}
	case m.MAC != "":
		return r.byMAC[strings.ToLower(m.MAC)]
	case m.IP != "":
		return r.byIP[m.IP]
	}
	return ""
}

// Record keeps m in its node's timeline and queues it to be written; it never blocks.
func (l *Log) Record(m Milestone) {
	node := l.names.Load().node(m)
	if node == "" {
		l.ignored.Add(1)
		return
	}
	if m.Time.IsZero() {
		m.Time = time.Now()
	}
	e := Entry{Time: m.Time.UTC(), Kind: m.Kind, Subject: m.Subject, Detail: m.Detail, Err: m.Err, MAC: strings.ToLower(m.MAC), IP: m.IP,
		Bytes: m.Bytes, Duration: m.Duration}
	if m.Bytes > 0 && m.Duration > 0 {
		e.Rate = float64(m.Bytes) / m.Duration.Seconds()
	}
	l.mu.Lock()
	if slices.Contains(stateKinds, m.Kind) {
		k := stateKey{node, m.Kind, m.Subject}
		if prev, seen := l.last[k]; seen && prev == m.Detail {
			l.mu.Unlock()
			return
		}
		l.last[k] = m.Detail
	}
	entries := append(l.nodes[node], e)
	if len(entries) >= 2*MaxPerNode { // trim in bulk: appends stay amortised O(1)
		entries = slices.Clone(entries[len(entries)-MaxPerNode:])
	}
	l.nodes[node] = entries
	full := l.queued >= QueueSize
	if !full {
		l.queue[node] = append(l.queue[node], e)
		l.queued++
	}
	l.mu.Unlock()
	if full {
		l.dropped.Add(1)
	}
}

// Run writes queued milestones to the store, at most once per FlushInterval, until ctx is
// done; then it writes what is left and returns.
func (l *Log) Run(ctx context.Context) error {
	t := time.NewTicker(FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			l.Flush()
			return nil
		case <-t.C:
			l.Flush()
		}
	}
}

// Flush writes what is queued now, in one store transaction. A batch the store refuses is
// logged and dropped (it stays in memory).
func (l *Log) Flush() {
	l.mu.Lock()
	batch := l.queue
	n := l.queued
	l.queue, l.queued = map[string][]any{}, 0
	l.mu.Unlock()
	if n == 0 {
		return
	}
	if err := l.st.AppendLogs(storeKind, batch, MaxPerNode); err != nil {
		l.dropped.Add(uint64(n))
		l.log.Error("timeline: write milestones", "count", n, "err", err)
	}
}

// Node returns a copy of a node's timeline, oldest first (at most MaxPerNode entries).
func (l *Log) Node(name string) []Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.nodes[name]
	return slices.Clone(e[max(0, len(e)-MaxPerNode):])
}

// All returns a copy of every node's timeline, by node name.
func (l *Log) All() map[string][]Entry {
	l.mu.Lock()
	names := make([]string, 0, len(l.nodes))
	for n := range l.nodes {
		names = append(names, n)
	}
	l.mu.Unlock()
	out := make(map[string][]Entry, len(names))
	for _, n := range names {
		out[n] = l.Node(n)
	}
	return out
}

// Dropped counts milestones kept in memory but not written (queue full, or the store refused).
func (l *Log) Dropped() uint64 { return l.dropped.Load() }

// Ignored counts milestones that named no lab node.
func (l *Log) Ignored() uint64 { return l.ignored.Load() }
