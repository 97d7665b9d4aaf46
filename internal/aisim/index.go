package aisim

import "strings"

// The simulator answers every request after advancing its state to now, and the flow and the
// simulated nodes send many requests per poll in a storm, so advancing must not cost a pass
// over every host each time: hosts are found by MAC through an index, and a pre-install
// cluster is re-evaluated only after something changed (s.changes).

// changed notes that hosts or clusters may have changed. Callers hold s.mu.
func (s *Sim) changed() { s.changes++ }

// addHost keeps a new host and indexes its MACs. Callers hold s.mu.
func (s *Sim) addHost(h *host) {
	s.hosts[h.h.ID] = h
	if s.byMAC != nil {
		for _, m := range h.macs {
			s.byMAC[m] = h
		}
	}
	s.changed()
}

// forgetHost forgets a host; the MAC index is rebuilt at its next use. Callers hold s.mu.
func (s *Sim) forgetHost(id string) {
	delete(s.hosts, id)
	s.byMAC = nil
	s.changed()
}

// hostByMAC is the host with a NIC of that MAC, nil when none. Callers hold s.mu.
func (s *Sim) hostByMAC(mac string) *host {
	if s.byMAC == nil {
		s.byMAC = make(map[string]*host, len(s.hosts))
		for _, h := range s.hosts {
			for _, m := range h.macs {
				s.byMAC[m] = h
			}
		}
	}
	return s.byMAC[strings.ToLower(mac)]
}
