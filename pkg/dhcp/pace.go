package dhcp

import (
	"net/netip"
	"sync"
	"time"
)

// Reply pacing defaults: at most DefaultReplyBurst replies to one
// destination at once, and DefaultReplyBurst per DefaultReplyInterval on
// average (64,000/s to one relay: 32,000 leases/s, above what this server
// commits; never more in one go than a client's default receive buffer
// holds).
const (
	DefaultReplyBurst    = 32
	DefaultReplyInterval = 500 * time.Microsecond
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

// pacer is a token bucket per destination: a destination's tokens grow by
// burst per interval up to burst, and each reply takes one, so no more than
// burst replies leave for it at once and no more than burst per interval on
// average; the rest wait, in order. Events are reported in job order, each
// once its job's reply has left.
type pacer struct {
	burst  int
	every  time.Duration
	tokens map[destination]bucket
	queue  []*paced
}

type bucket struct {
	tokens float64
	at     time.Time
}

type paced struct {
	j          *job
	done, held bool
}

func newPacer(burst int, every time.Duration) *pacer {
	return &pacer{burst: burst, every: every, tokens: map[destination]bucket{}}
}

func (p *pacer) add(jobs []*job) {
	for _, j := range jobs {
		p.queue = append(p.queue, &paced{j: j})
	}
}

// take takes a token of d at now, if it has one.
func (p *pacer) take(d destination, now time.Time) bool {
	b, ok := p.tokens[d]
	if !ok {
		b = bucket{tokens: float64(p.burst), at: now}
	}
	if el := now.Sub(b.at); el > 0 {
		b.tokens = min(float64(p.burst), b.tokens+float64(p.burst)*float64(el)/float64(p.every))
		b.at = now
	}
	if b.tokens < 1 {
		p.tokens[d] = b
		return false
	}
	b.tokens--
	p.tokens[d] = b
	return true
}

// release picks the replies that may leave now and the jobs whose events
// may be reported (in order), and says how long until a waiting reply gets
// a token (0: none waits). held counts replies that had to wait for the
// first time.
func (p *pacer) release(now time.Time) (out []*reply, finished []*job, wait time.Duration, held int) {
	for _, q := range p.queue {
		if q.done {
			continue
		}
		if q.j.reply == nil {
			q.done = true
			continue
		}
		if !p.take(destOf(q.j.reply), now) {
			if !q.held {
				q.held = true
				held++
			}
			continue
		}
		q.done = true
		out = append(out, q.j.reply)
	}
	i := 0
	for ; i < len(p.queue) && p.queue[i].done; i++ {
		finished = append(finished, p.queue[i].j)
	}
	p.queue = append(p.queue[:0], p.queue[i:]...)
	if len(p.queue) > 0 {
		wait = max(p.every/4, time.Microsecond) // a quarter of a burst
	} else if len(p.tokens) > 1024 {
		clear(p.tokens) // idle: forget destinations (every client's own address on renewals)
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
