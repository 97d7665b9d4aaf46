package dhcp

import (
	"net"
	"testing"
	"time"
)

func pacedJob(iface string, ip net.IP, events int) *job {
	return &job{reply: &reply{iface: iface, dst: &net.UDPAddr{IP: ip, Port: 67}}, events: make([]LeaseEvent, events)}
}

// TestPacerBoundsBurstPerDestination: 100 replies to one relay and 10 to
// another, released at one instant, leave at most burst per destination per
// interval, in order; the other relay is not held back by the first; jobs
// finish (their events are reported) in their order only.
func TestPacerBoundsBurstPerDestination(t *testing.T) {
	p := newPacer(32, time.Millisecond)
	relayA, relayB := net.IPv4(172, 16, 0, 10), net.IPv4(172, 16, 0, 11)
	var jobs []*job
	for i := range 100 {
		jobs = append(jobs, pacedJob("srv-a", relayA, 1))
		if i < 10 {
			jobs = append(jobs, pacedJob("srv-a", relayB, 1))
		}
	}
	sweep := &job{events: make([]LeaseEvent, 1)} // no reply: finishes as soon as those before it have
	jobs = append(jobs, sweep)
	p.add(jobs)
	now := time.Unix(1000, 0)
	var order []*reply
	finished := 0
	totalHeld := 0
	for interval := 0; len(p.queue) > 0; interval++ {
		out, done, wait, held := p.release(now)
		totalHeld += held
		perDest := map[string]int{}
		for _, r := range out {
			perDest[r.dst.IP.String()]++
		}
		for d, n := range perDest {
			if n > 32 {
				t.Errorf("interval %d: %d replies to %s, burst is 32", interval, n, d)
			}
		}
		if interval == 0 && perDest[relayB.String()] != 10 {
			t.Errorf("first interval: %d replies to the second relay, want all 10", perDest[relayB.String()])
		}
		order = append(order, out...)
		finished += len(done)
		if len(p.queue) > 0 && wait <= 0 {
			t.Fatalf("interval %d: replies wait but no wake-up asked", interval)
		}
		// A second release within the same interval sends nothing more to relay A.
		if again, _, _, _ := p.release(now); len(again) != 0 {
			t.Errorf("interval %d: %d more replies in the same interval", interval, len(again))
		}
		now = now.Add(wait)
		if interval > 10 {
			t.Fatal("pacer does not drain")
		}
	}
	if len(order) != 110 || finished != 111 {
		t.Errorf("%d replies sent, %d jobs finished; want 110 and 111", len(order), finished)
	}
	if totalHeld != 100-32 {
		t.Errorf("%d replies held, want %d", totalHeld, 100-32)
	}
	// Replies to relay A keep their order.
	k := 0
	for _, j := range jobs {
		if j.reply != nil && j.reply.dst.IP.Equal(relayA) {
			for order[k].dst.IP.Equal(relayB) {
				k++
			}
			if order[k] != j.reply {
				t.Fatal("replies to one relay left out of order")
			}
			k++
		}
	}
}
