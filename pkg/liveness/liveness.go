// Package liveness tells whether the appliance's long-running loops still run. Each loop
// registers a Beat and calls Beat() every time it goes round, including when it wakes up from
// an idle wait (a read deadline, a ticker), so an idle healthy loop keeps beating and a loop
// stuck somewhere stops. Work a loop hands to other goroutines can be tracked with Begin: one
// piece of work running longer than the loop's allowed silence makes the loop wedged too. A
// loop that waits on purpose (the install flow stopped until the lab changes) says so with
// Idle. The registry's Check is what the systemd watchdog, /healthz and /readyz ask.
//
// Every method of a nil *Registry and a nil *Beat does nothing, so services run without a
// registry (tests, tools) without checks of their own.
package liveness

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxSilence is how long a loop may go without beating when its registry was made with
// no other default.
const DefaultMaxSilence = 30 * time.Second

// Registry holds the beats of the running loops.
type Registry struct {
	maxSilence time.Duration
	epoch      time.Time            // beats are kept as monotonic offsets from it
	clock      func() time.Duration // time since epoch; tests set their own

	mu    sync.Mutex
	beats []*Beat // in registration order
}

// New makes a registry whose loops may be silent for maxSilence (DefaultMaxSilence if zero)
// unless they register with their own.
func New(maxSilence time.Duration) *Registry {
	if maxSilence <= 0 {
		maxSilence = DefaultMaxSilence
	}
	r := &Registry{maxSilence: maxSilence, epoch: time.Now()}
	r.clock = func() time.Duration { return time.Since(r.epoch) }
	return r
}

// MaxSilence is the registry's default allowed silence.
func (r *Registry) MaxSilence() time.Duration {
	if r == nil {
		return DefaultMaxSilence
	}
	return r.maxSilence
}

// Register adds a loop named name (e.g. "dhcp read ens4") that must beat at least every
// maxSilence (0: the registry's default). The loop counts as having just beaten. Call Done
// when the loop ends in order. On a nil registry it returns nil, whose methods do nothing.
func (r *Registry) Register(name string, maxSilence time.Duration) *Beat {
	if r == nil {
		return nil
	}
	if maxSilence <= 0 {
		maxSilence = r.maxSilence
	}
	b := &Beat{reg: r, name: name, maxSilence: maxSilence, work: map[uint64]int64{}}
	b.Beat()
	r.mu.Lock()
	r.beats = append(r.beats, b)
	r.mu.Unlock()
	return b
}

func (r *Registry) since() int64 { return int64(r.clock()) }

// Loop is one registered loop as Check sees it.
type Loop struct {
	Name     string
	LastBeat time.Time
	Beats    uint64 // how many times it has beaten since it registered
	// Idle is the reason the loop waits on purpose; "" while it runs.
	Idle string
	// Wedged says why the loop counts as stuck; "" while it is alive.
	Wedged string
}

// Alive reports whether the loop beats in time (or waits on purpose).
func (l Loop) Alive() bool { return l.Wedged == "" }

// Loops returns every registered loop's state, in registration order.
func (r *Registry) Loops() []Loop {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	beats := slices.Clone(r.beats)
	r.mu.Unlock()
	now := r.since()
	out := make([]Loop, 0, len(beats))
	for _, b := range beats {
		out = append(out, b.state(now))
	}
	return out
}

// Check returns nil while every registered loop is alive, else an error naming each wedged
// loop and why.
func (r *Registry) Check() error {
	var errs []error
	for _, l := range r.Loops() {
		if !l.Alive() {
			errs = append(errs, fmt.Errorf("%s: %s", l.Name, l.Wedged))
		}
	}
	return errors.Join(errs...)
}

func (r *Registry) remove(b *Beat) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i := slices.Index(r.beats, b); i >= 0 {
		r.beats = slices.Delete(r.beats, i, i+1)
	}
}

// Beat is one loop's heartbeat.
type Beat struct {
	reg        *Registry
	name       string
	maxSilence time.Duration
	last       atomic.Int64 // registry offset of the last beat
	beats      atomic.Uint64
	idle       atomic.Pointer[string]

	mu     sync.Mutex
	nextID uint64
	work   map[uint64]int64 // work in flight -> registry offset of its start
}

// Beat records that the loop went round just now, and ends an Idle wait.
func (b *Beat) Beat() {
	if b == nil {
		return
	}
	b.last.Store(b.reg.since())
	b.beats.Add(1)
	if b.idle.Load() != nil {
		b.idle.Store(nil)
	}
}

// Idle says the loop waits on purpose (why says for what) and is not wedged however long the
// wait; the next Beat ends it.
func (b *Beat) Idle(why string) {
	if b == nil {
		return
	}
	b.idle.Store(&why)
}

// Every is how often a loop that waits for something should wake up to beat: a quarter of its
// allowed silence, so that a loaded machine does not make a healthy loop look wedged.
func (b *Beat) Every() time.Duration {
	if b == nil {
		return DefaultMaxSilence / 4
	}
	return b.maxSilence / 4
}

// Begin records the start of a piece of work the loop handed to another goroutine (a query
// being forwarded, a TCP connection's query); call the returned func when it ends. Work that
// runs longer than the allowed silence makes the loop wedged until it ends.
func (b *Beat) Begin() (end func()) {
	if b == nil {
		return func() {}
	}
	b.mu.Lock()
	id := b.nextID
	b.nextID++
	b.work[id] = b.reg.since()
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		delete(b.work, id)
		b.mu.Unlock()
	}
}

// Done removes the loop from its registry: it ended in order and is no longer checked.
func (b *Beat) Done() {
	if b == nil {
		return
	}
	b.reg.remove(b)
}

// Name is the name the loop registered with.
func (b *Beat) Name() string {
	if b == nil {
		return ""
	}
	return b.name
}

func (b *Beat) state(now int64) Loop {
	last := b.last.Load()
	l := Loop{Name: b.name, LastBeat: b.reg.epoch.Add(time.Duration(last)), Beats: b.beats.Load()}
	if why := b.idle.Load(); why != nil {
		l.Idle = *why
		return l
	}
	if silent := time.Duration(now - last); silent > b.maxSilence {
		l.Wedged = fmt.Sprintf("no beat for %s (allowed: %s)", round(silent), b.maxSilence)
		return l
	}
	b.mu.Lock()
	oldest, busy := int64(0), false
	for _, start := range b.work {
		if !busy || start < oldest {
			oldest, busy = start, true
		}
	}
	b.mu.Unlock()
	if busy {
		if running := time.Duration(now - oldest); running > b.maxSilence {
			l.Wedged = fmt.Sprintf("a piece of its work has run for %s (allowed: %s)", round(running), b.maxSilence)
		}
	}
	return l
}

// round shortens a duration for a message: whole seconds, or milliseconds below a second.
func round(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Second)
}
