package liveness

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a registry clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Duration
}

func (c *fakeClock) get() time.Duration { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.now += d
	c.mu.Unlock()
}

func newFake(maxSilence time.Duration) (*Registry, *fakeClock) {
	r := New(maxSilence)
	c := &fakeClock{}
	r.clock = c.get
	return r, c
}

func TestCheck(t *testing.T) {
	r, clock := newFake(10 * time.Second)
	reader := r.Register("dhcp read ens4", 0)
	flow := r.Register("flow", time.Minute)
	if err := r.Check(); err != nil {
		t.Fatalf("fresh loops: %v", err)
	}
	clock.add(8 * time.Second)
	reader.Beat()
	clock.add(8 * time.Second) // the reader beat 8s ago, the flow 16s ago (it may be silent for a minute)
	if err := r.Check(); err != nil {
		t.Fatalf("loops within their silence: %v", err)
	}
	clock.add(3 * time.Second)
	err := r.Check()
	if err == nil || !strings.Contains(err.Error(), "dhcp read ens4: no beat for 11s (allowed: 10s)") || strings.Contains(err.Error(), "flow") {
		t.Fatalf("a reader silent for 11s: %v", err)
	}
	reader.Beat()
	if err := r.Check(); err != nil {
		t.Fatalf("after the reader beat again: %v", err)
	}

	// Idle on purpose: not wedged however long; the next beat ends the idle wait.
	flow.Idle("stopped on a permanent error; waits for a lab change")
	clock.add(time.Hour)
	reader.Beat()
	if err := r.Check(); err != nil {
		t.Fatalf("an idle flow: %v", err)
	}
	loops := r.Loops()
	if len(loops) != 2 || loops[1].Name != "flow" || loops[1].Idle == "" || !loops[1].Alive() {
		t.Fatalf("loops = %+v", loops)
	}
	flow.Beat()
	clock.add(2 * time.Minute)
	reader.Beat()
	if err := r.Check(); err == nil || !strings.Contains(err.Error(), "flow: no beat for 2m0s") {
		t.Fatalf("a flow silent for 2m after its idle wait ended: %v", err)
	}

	// A loop that ended in order is no longer checked.
	flow.Done()
	if err := r.Check(); err != nil || len(r.Loops()) != 1 {
		t.Fatalf("after Done: %v, %d loops", err, len(r.Loops()))
	}
}

func TestWorkTooLongWedges(t *testing.T) {
	r, clock := newFake(10 * time.Second)
	b := r.Register("dns tcp 127.0.0.1:53", 0)
	endQuick := b.Begin()
	endStuck := b.Begin()
	clock.add(5 * time.Second)
	endQuick()
	clock.add(6 * time.Second)
	b.Beat() // the loop itself goes round; one of its queries does not end
	err := r.Check()
	if err == nil || !strings.Contains(err.Error(), "a piece of its work has run for 11s") {
		t.Fatalf("stuck work: %v", err)
	}
	endStuck()
	if err := r.Check(); err != nil {
		t.Fatalf("after the work ended: %v", err)
	}
}

func TestNilIsSilent(t *testing.T) {
	var r *Registry
	b := r.Register("x", 0)
	b.Beat()
	b.Idle("why")
	b.Begin()()
	b.Done()
	if b != nil || r.Check() != nil || r.Loops() != nil || b.Every() != DefaultMaxSilence/4 {
		t.Fatal("a nil registry or beat did something")
	}
}

// TestListenerBeatsWhileIdle: a listener nobody connects to still beats, and a connection is
// handed over as it is.
func TestListenerBeatsWhileIdle(t *testing.T) {
	r := New(40 * time.Millisecond) // wakes every 10ms
	b := r.Register("http", 0)
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Listener(raw, b)
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	for b.beats.Load() < 5 { // wake-ups, not connections: nobody has connected yet
		time.Sleep(5 * time.Millisecond)
	}
	c, err := net.Dial("tcp", raw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := <-accepted; got == nil {
		t.Fatal("no connection accepted")
	} else {
		got.Close()
	}
	l.Close()
	if _, err := l.Accept(); err == nil {
		t.Fatal("Accept on a closed listener succeeded")
	}
}
