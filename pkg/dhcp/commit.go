package dhcp

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/store"
)

// maxQueued bounds the jobs waiting for a commit; beyond it requests are
// dropped (the client retries) rather than memory growing without limit.
const maxQueued = 8192

// queue is the ordered list of jobs waiting for the committer. Jobs are
// pushed while Server.mu is held, so the store sees writes in the order the
// in-memory table decided them.
type queue struct {
	mu   sync.Mutex
	jobs []*job
	wake chan struct{} // capacity 1: "there is work"
}

func newQueue() *queue { return &queue{wake: make(chan struct{}, 1)} }

func (q *queue) push(j *job) bool {
	q.mu.Lock()
	if len(q.jobs) >= maxQueued {
		q.mu.Unlock()
		return false
	}
	q.jobs = append(q.jobs, j)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return true
}

func (q *queue) take() []*job {
	q.mu.Lock()
	defer q.mu.Unlock()
	jobs := q.jobs
	q.jobs = nil
	return jobs
}

// runCommitter commits queued jobs until stop is closed, then commits what
// is left and returns. Everything queued while one group is being written
// forms the next group: one fsync for all of them (group commit). The
// replies of a committed group leave from their own goroutine, so the next
// group is written while this one's ACKs are sent.
func (s *Server) runCommitter(stop <-chan struct{}) {
	answers := make(chan []*job, 64)
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		s.runAnswers(answers)
	}()
	defer func() {
		close(answers)
		<-sent
	}()
	deliver := func(jobs []*job) { answers <- jobs }
	beat := s.live.Register("dhcp commit", 0)
	defer beat.Done()
	wake := time.NewTicker(beat.Every())
	defer wake.Stop()
	for {
		beat.Beat()
		select {
		case <-s.q.wake:
			s.commitPending(deliver)
		case <-wake.C:
		case <-stop:
			s.commitPending(deliver)
			return
		}
	}
}

// runAnswers answers committed jobs until answers is closed. Lease listeners
// run here: one that blocks wedges this loop, and the liveness check says so.
func (s *Server) runAnswers(answers <-chan []*job) {
	beat := s.live.Register("dhcp answer", 0)
	defer beat.Done()
	wake := time.NewTicker(beat.Every())
	defer wake.Stop()
	for {
		beat.Beat()
		select {
		case jobs, ok := <-answers:
			if !ok {
				return
			}
			s.answer(jobs)
		case <-wake.C:
		}
	}
}

// answer sends the replies of committed jobs and reports their events, in
// commit order.
func (s *Server) answer(jobs []*job) {
	replies := make([]*reply, 0, len(jobs))
	for _, j := range jobs {
		if j.reply != nil {
			replies = append(replies, j.reply)
		}
	}
	s.sendReplies(replies)
	for _, j := range jobs {
		s.emit(j.events)
	}
}

// commitPending writes every queued job to the store, then hands those that
// committed to deliver (which answers them); failed jobs are rolled back and
// not answered.
func (s *Server) commitPending(deliver func([]*job)) {
	for {
		jobs := s.q.take()
		if len(jobs) == 0 {
			return
		}
		start := time.Now()
		s.write(jobs)
		s.m.commit(time.Since(start), len(jobs))
		committed := make([]*job, 0, len(jobs))
		for _, j := range jobs {
			if j.err != nil {
				s.mu.Lock()
				if j.rollback != nil {
					j.rollback()
				}
				s.mu.Unlock()
				network := ""
				if j.reply != nil {
					network = j.reply.network
				} else if len(j.ops) > 0 {
					network = j.ops[0].lease.Network
				}
				s.m.dropped(network, dropCommitFailed)
				s.log.Error("dhcp: lease not stored, not answering", "network", network, "mac", j.mac, "ip", j.ip, "err", j.err)
				continue
			}
			committed = append(committed, j)
		}
		deliver(committed)
	}
}

// write applies the jobs' ops in order: consecutive puts as one PutLeases
// transaction, deletes one by one. If a grouped put fails, its jobs are
// retried one by one so only the offending job fails.
func (s *Server) write(jobs []*job) {
	type pending struct {
		j *job
		l store.Lease
	}
	var puts []pending
	flush := func() {
		if len(puts) == 0 {
			return
		}
		ls := make([]store.Lease, len(puts))
		for i, p := range puts {
			ls[i] = p.l
		}
		if err := s.st.PutLeases(ls); err != nil {
			for _, p := range puts {
				if p.j.err != nil {
					continue
				}
				if err := s.st.PutLease(p.l); err != nil {
					p.j.err = fmt.Errorf("dhcp: store lease of %s on %s: %w", p.l.MAC, p.l.Network, err)
				}
			}
		}
		puts = puts[:0]
	}
	for _, j := range jobs {
		for _, o := range j.ops {
			switch o.kind {
			case opPut:
				puts = append(puts, pending{j, o.lease})
			case opDelete:
				flush()
				if err := s.st.DeleteLease(o.lease.Network, o.lease.MAC); err != nil && j.err == nil {
					j.err = fmt.Errorf("dhcp: delete lease of %s on %s: %w", o.lease.MAC, o.lease.Network, err)
				}
			default:
				j.err = errors.Join(j.err, fmt.Errorf("dhcp: unknown store op %d", o.kind))
			}
		}
	}
	flush()
}
