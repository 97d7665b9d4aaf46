package dhcp

import (
	"net/netip"
	"sync"
	"time"
)

// Reply pacing defaults: at most DefaultReplyBurst replies to one
// destination per DefaultReplyInterval (32,000/s to one relay, far above
// what one relay forwards, yet never more in one go than a client's default
// receive buffer holds).
const (
	DefaultReplyBurst    = 32
	DefaultReplyInterval = time.Millisecond
)

// outbox holds jobs whose replies may leave (their ops are durable, or they
// had none), in the order they were decided, for the answer loop.
type outbox struct {
	mu   sync.Mutex
	jobs []*job
	wake chan struct{} // capacity 1: "there is work"
}

func newOutbox() *outbox { return &outbox{wake: make(chan struct{}, 1)} }

// push adds jobs; with bounded, only while fewer than maxQueued wait, and it
// returns how many it took (committed jobs are always taken: their leases
// are stored, their events must be reported).
func (o *outbox) push(jobs []*job, bounded bool) int {
	if len(jobs) == 0 {
		return 0
	}
	o.mu.Lock()
	if bounded {
		jobs = jobs[:max(0, min(len(jobs), maxQueued-len(o.jobs)))]
	}
	o.jobs = append(o.jobs, jobs...)
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return len(jobs)
}

func (o *outbox) take() []*job {
	o.mu.Lock()
	defer o.mu.Unlock()
	jobs := o.jobs
	o.jobs = nil
	return jobs
}

// destination is where a reply goes: an interface and an address (a relay,
// a client's own address, or the interface's broadcast, which every client
// on the link receives).
type destination struct {
	iface string
	addr  netip.AddrPort
}

func destOf(r *reply) destination {
	return destination{iface: r.iface, addr: r.dst.AddrPort()}
}

// pacer lets at most burst replies leave to one destination per interval;
// the rest wait for a later interval, in order. Events are reported in job
// order, each once its job's reply has left.
type pacer struct {
	burst int
	every time.Duration
	start time.Time           // of the current interval
	used  map[destination]int // replies sent in it
	queue []*paced
}

type paced struct {
	j          *job
	done, held bool
}

func newPacer(burst int, every time.Duration) *pacer {
	return &pacer{burst: burst, every: every, used: map[destination]int{}}
}

func (p *pacer) add(jobs []*job) {
	for _, j := range jobs {
		p.queue = append(p.queue, &paced{j: j})
	}
}

// release picks the replies that may leave now and the jobs whose events
// may be reported (in order), and says how long until the next interval if
// some reply must wait (0: none waits). held counts replies that had to wait
// for the first time.
func (p *pacer) release(now time.Time) (out []*reply, finished []*job, wait time.Duration, held int) {
	if now.Sub(p.start) >= p.every {
		p.start = now
		clear(p.used)
	}
	for _, q := range p.queue {
		if q.done {
			continue
		}
		if q.j.reply == nil {
			q.done = true
			continue
		}
		d := destOf(q.j.reply)
		if p.used[d] >= p.burst {
			if !q.held {
				q.held = true
				held++
			}
			continue
		}
		p.used[d]++
		q.done = true
		out = append(out, q.j.reply)
	}
	i := 0
	for ; i < len(p.queue) && p.queue[i].done; i++ {
		finished = append(finished, p.queue[i].j)
	}
	p.queue = append(p.queue[:0], p.queue[i:]...)
	if len(p.queue) > 0 {
		wait = max(p.start.Add(p.every).Sub(now), time.Microsecond)
	}
	return out, finished, wait, held
}

// runAnswers sends the replies of the outbox, paced, and reports the jobs'
// events, until stop is closed and everything queued has left. Lease
// listeners run here: one that blocks wedges this loop, and the liveness
// check says so.
func (s *Server) runAnswers(stop <-chan struct{}) {
	beat := s.live.Register("dhcp answer", 0)
	defer beat.Done()
	idle := time.NewTicker(beat.Every())
	defer idle.Stop()
	s.mu.Lock()
	p := newPacer(s.cfg.cfg.ReplyBurst, s.cfg.cfg.ReplyInterval)
	s.mu.Unlock()
	next := time.NewTimer(time.Hour)
	next.Stop()
	stopping := false
	for {
		beat.Beat()
		p.add(s.out.take())
		out, finished, wait, held := p.release(time.Now())
		s.sendReplies(out)
		s.m.deferred(held)
		for _, j := range finished {
			s.emit(j.events)
		}
		if wait > 0 {
			next.Reset(wait)
		} else if stopping {
			if p.add(s.out.take()); len(p.queue) == 0 {
				return
			}
			continue
		}
		select {
		case <-s.out.wake:
		case <-next.C:
		case <-idle.C:
		case <-stop:
			stopping, stop = true, nil
		}
	}
}
