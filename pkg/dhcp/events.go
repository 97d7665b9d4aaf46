package dhcp

import (
	"net"
	"net/netip"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/store"
)

// EventKind says what happened to a lease.
type EventKind string

// Lease event kinds. A listener keeping names for leases adds a name on
// Bound and Renewed and removes it on the others.
const (
	EventBound    EventKind = "bound"    // a new address for the MAC (committed)
	EventRenewed  EventKind = "renewed"  // same address, lease extended (committed)
	EventReleased EventKind = "released" // the client gave the address back
	EventExpired  EventKind = "expired"  // the lease ran out (or was taken back for a reservation)
	EventDeclined EventKind = "declined" // the client found the address in use
)

// LeaseEvent is one change of a lease, reported after it is committed to
// the store.
type LeaseEvent struct {
	Kind     EventKind
	Network  string
	MAC      net.HardwareAddr
	IP       netip.Addr
	Hostname string // the reservation's name, else the client's option 12 (cleaned to a DNS label); may be empty
	Expiry   time.Time
}

func (s *Server) event(kind EventKind, l store.Lease) LeaseEvent {
	mac, _ := net.ParseMAC(l.MAC)
	return LeaseEvent{Kind: kind, Network: l.Network, MAC: mac, IP: l.IP, Hostname: l.Hostname, Expiry: l.Expiry}
}

// OnLease registers fn to be called for every lease event, in order, from
// the server's committer goroutine: fn must not block (hand the event to
// your own goroutine if it may). Events start with the leases changed after
// registration; read Leases for the current state.
func (s *Server) OnLease(fn func(LeaseEvent)) {
	if fn == nil {
		return
	}
	s.lmu.Lock()
	defer s.lmu.Unlock()
	s.listeners = append(s.listeners, fn)
}

func (s *Server) emit(evs []LeaseEvent) {
	if len(evs) == 0 {
		return
	}
	s.lmu.RLock()
	fns := s.listeners
	s.lmu.RUnlock()
	for _, ev := range evs {
		for _, fn := range fns {
			fn(ev)
		}
	}
}
