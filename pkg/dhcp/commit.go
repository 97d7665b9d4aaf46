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
// forms the next group: one journal fsync for all of them (group commit).
// Committed jobs go to the outbox, whose loop sends their replies paced, so
// the next group is written while this one's replies leave.
func (s *Server) runCommitter(stop <-chan struct{}) {
	deliver := func(jobs []*job) { s.out.push(jobs, false) }
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

// answer sends the replies of committed jobs at once (unpaced) and reports
// their events, in commit order.
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
				network := jobNetwork(j)
				s.m.dropped(network, dropCommitFailed)
				s.log.Error("dhcp: lease not stored, not answering", "network", network, "mac", j.mac, "ip", j.ip, "err", j.err)
				continue
			}
			committed = append(committed, j)
		}
		deliver(committed)
	}
}

// write commits the jobs' ops, one atomic batch per job, all with one
// journal fsync; a job the store refuses fails alone.
func (s *Server) write(jobs []*job) {
	batches := make([][]store.LeaseOp, len(jobs))
	for i, j := range jobs {
		b := make([]store.LeaseOp, 0, len(j.ops))
		for _, o := range j.ops {
			switch o.kind {
			case opPut:
				b = append(b, store.LeaseOp{Lease: o.lease})
			case opDelete:
				b = append(b, store.LeaseOp{Delete: true, Lease: o.lease})
			default:
				j.err = errors.Join(j.err, fmt.Errorf("dhcp: unknown store op %d", o.kind))
			}
		}
		batches[i] = b
	}
	for i, err := range s.st.CommitLeases(batches) {
		if j := jobs[i]; err != nil && j.err == nil {
			j.err = fmt.Errorf("dhcp: store lease change of %s on %s: %w", j.mac, jobNetwork(j), err)
		}
	}
}

func jobNetwork(j *job) string {
	if j.reply != nil {
		return j.reply.network
	}
	if len(j.ops) > 0 {
		return j.ops[0].lease.Network
	}
	return ""
}
