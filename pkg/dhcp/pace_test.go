package dhcp

import (
	"net"
	"testing"
	"time"
)

func pacedJob(iface string, ip net.IP, events int) *job {
	return &job{reply: &reply{iface: iface, dst: &net.UDPAddr{IP: ip, Port: 67}}, events: make([]LeaseEvent, events)}
}

// TestPacerBoundsBurstPerDestination: 300 replies to one relay and 10 to
// another, released at one instant: no more than burst leave for one
// destination at once, no more than 2 bursts within any interval, in order;
// the other relay is not held back by the first; jobs finish (their events
// are reported) in their order only.
func TestPacerBoundsBurstPerDestination(t *testing.T) {
	const burst = 32
	every := time.Millisecond
	p := newPacer(burst, every)
	relayA, relayB := net.IPv4(172, 16, 0, 10), net.IPv4(172, 16, 0, 11)
	var jobs []*job
	for i := range 300 {
		jobs = append(jobs, pacedJob("srv-a", relayA, 1))
		if i < 10 {
			jobs = append(jobs, pacedJob("srv-a", relayB, 1))
		}
	}
	jobs = append(jobs, &job{events: make([]LeaseEvent, 1)}) // no reply: finishes once those before it have
	p.add(jobs)
	now := time.Unix(1000, 0)
	var order []*reply
	type sent struct {
		at time.Time
		n  int
	}
	var toA []sent
	finished, totalHeld := 0, 0
	for step := 0; len(p.queue) > 0; step++ {
		out, done, wait, held := p.release(now)
		totalHeld += held
		perDest := map[string]int{}
		for _, r := range out {
			perDest[r.dst.IP.String()]++
		}
		for d, n := range perDest {
			if n > burst {
				t.Errorf("step %d: %d replies to %s at once, burst is %d", step, n, d, burst)
			}
		}
		if step == 0 && perDest[relayB.String()] != 10 {
			t.Errorf("first release: %d replies to the second relay, want all 10", perDest[relayB.String()])
		}
		toA = append(toA, sent{now, perDest[relayA.String()]})
		order = append(order, out...)
		finished += len(done)
		if len(p.queue) > 0 && wait <= 0 {
			t.Fatalf("step %d: replies wait but no wake-up asked", step)
		}
		if again, _, _, _ := p.release(now); len(again) != 0 {
			t.Errorf("step %d: %d more replies at the same instant", step, len(again))
		}
		now = now.Add(wait)
		if step > 1000 {
			t.Fatal("pacer does not drain")
		}
	}
	for i := range toA { // every window of one interval
		n := 0
		for _, s := range toA[i:] {
			if s.at.Sub(toA[i].at) < every {
				n += s.n
			}
		}
		if n > 2*burst {
			t.Fatalf("%d replies to one relay within one interval from %v, want at most %d", n, toA[i].at, 2*burst)
		}
	}
	if len(order) != 310 || finished != 311 {
		t.Errorf("%d replies sent, %d jobs finished; want 310 and 311", len(order), finished)
	}
	if totalHeld != 300-burst {
		t.Errorf("%d replies held, want %d", totalHeld, 300-burst)
	}
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
