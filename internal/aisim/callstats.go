package aisim

import (
	"slices"
	"time"
)

// hostCall records an API call naming one host (its path has the host's id). Callers hold s.mu.
func (s *Sim) hostCall(id string) {
	if s.hostCalls == nil {
		s.hostCalls = map[string][]time.Time{}
	}
	s.hostCalls[id] = append(s.hostCalls[id], s.now())
}

// MaxHostCalls is the most API calls naming one host (GET, PATCH, DELETE of
// /infra-envs/{id}/hosts/{host}, host actions) that fell within any window of the given
// length, and the host; lists of hosts do not count.
func (s *Sim) MaxHostCalls(window time.Duration) (calls int, hostID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, ts := range s.hostCalls {
		ts = slices.Clone(ts)
		slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
		lo := 0
		for hi := range ts {
			for ts[hi].Sub(ts[lo]) >= window {
				lo++
			}
			if n := hi - lo + 1; n > calls {
				calls, hostID = n, id
			}
		}
	}
	return calls, hostID
}

// Milestones are when the last host of any cluster registered and when the (last) install
// started; zero when it has not happened.
func (s *Sim) Milestones() (lastRegistered, installStarted time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range s.hosts {
		if h.registeredAt.After(lastRegistered) {
			lastRegistered = h.registeredAt
		}
	}
	for _, cl := range s.clusters {
		if cl.installStart.After(installStarted) {
			installStarted = cl.installStart
		}
	}
	return lastRegistered, installStarted
}
