package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Lease is one DHCP lease (or reservation) on a lab network.
type Lease struct {
	Network  string     // lab network name
	MAC      string     // canonical lower-case aa:bb:cc:dd:ee:ff (the store canonicalizes)
	IP       netip.Addr // 4-in-6 addresses are stored unmapped, zones dropped
	Hostname string
	Start    time.Time
	Expiry   time.Time // zero: never expires
	Reserved bool      // from the lab file (vs from a pool)
}

// Expired reports whether the lease has an expiry at or before now.
func (l Lease) Expired(now time.Time) bool {
	return !l.Expiry.IsZero() && !l.Expiry.After(now)
}

// leaseRecord is the stored form (the key holds network and MAC too).
type leaseRecord struct {
	Network  string    `json:"network"`
	MAC      string    `json:"mac"`
	IP       string    `json:"ip"`
	Hostname string    `json:"hostname,omitempty"`
	Start    time.Time `json:"start"`
	Expiry   time.Time `json:"expiry"`
	Reserved bool      `json:"reserved,omitempty"`
}

// PutLease records l, keyed by network and MAC, replacing any earlier lease
// of that MAC on that network. It fails with ErrIPInUse if l.IP is leased to
// another MAC on that network; the caller must delete that lease first.
func (s *Store) PutLease(l Lease) error {
	if err := s.CommitLeases([][]LeaseOp{{{Lease: l}}})[0]; err != nil {
		return fmt.Errorf("store: put lease %s on %s: %w", l.MAC, l.Network, err)
	}
	return nil
}

// PutLeases records several leases in one batch (one fsync): all of them or,
// on error, none.
func (s *Store) PutLeases(ls []Lease) error {
	ops := make([]LeaseOp, len(ls))
	for i, l := range ls {
		ops[i] = LeaseOp{Lease: l}
	}
	if err := s.CommitLeases([][]LeaseOp{ops}); err[0] != nil {
		return fmt.Errorf("store: put %d leases: %w", len(ls), err[0])
	}
	return nil
}

// CommitLeases writes batches of lease ops in order, each batch atomically
// (after a crash all of its ops are there or none), all with one fsync, and
// returns once they are durable. errs[i] is batch i's: a batch that would
// break the store's invariants (ErrIPInUse, ErrInvalid) is refused alone and
// the others are written as if it had not been there; a failed write fails
// every batch of the call and every later call (the journal cannot be
// trusted until the store is reopened).
func (s *Store) CommitLeases(batches [][]LeaseOp) (errs []error) {
	s.jmu.Lock()
	defer s.jmu.Unlock()
	return s.commitLocked(batches)
}

// commitLocked is CommitLeases with jmu held.
func (s *Store) commitLocked(batches [][]LeaseOp) []error {
	errs := make([]error, len(batches))
	fail := func(err error) []error {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
		return errs
	}
	switch {
	case s.jerr != nil:
		return fail(fmt.Errorf("lease journal failed earlier: %w", s.jerr))
	case s.jf == nil:
		return fail(errors.New("store is closed"))
	}
	ov := newOverlay(s.mem)
	var frames []byte
	for i, b := range batches {
		ops, err := ov.batch(b)
		if err != nil {
			errs[i] = err
			continue
		}
		if len(ops) > 0 {
			frames = appendFrame(frames, ops)
		}
	}
	if len(frames) == 0 {
		return errs
	}
	if err := s.jf.append(frames); err != nil {
		s.jerr = err
		return fail(err)
	}
	s.mu.Lock()
	ov.applyTo(s.mem)
	s.mu.Unlock()
	for k := range ov.leases {
		s.dirty[k] = struct{}{}
	}
	if s.jf.off >= compactAfter {
		select {
		case s.compactReq <- struct{}{}:
		default:
		}
	}
	return errs
}

// overlay is the lease table as a CommitLeases call changes it, on top of
// the store's table, until the journal write is durable.
type overlay struct {
	base   memLeases
	leases map[string]*Lease  // nil: deleted
	byIP   map[string]*string // nil: free
	undo   []func()
}

func newOverlay(base memLeases) *overlay {
	return &overlay{base: base, leases: map[string]*Lease{}, byIP: map[string]*string{}}
}

func (o *overlay) lease(k string) (Lease, bool) {
	if l, ok := o.leases[k]; ok {
		if l == nil {
			return Lease{}, false
		}
		return *l, true
	}
	l, ok := o.base.leases[k]
	return l, ok
}

func (o *overlay) holder(ik string) (string, bool) {
	if m, ok := o.byIP[ik]; ok {
		if m == nil {
			return "", false
		}
		return *m, true
	}
	m, ok := o.base.byIP[ik]
	return m, ok
}

func (o *overlay) setLease(k string, l *Lease) {
	prev, had := o.leases[k]
	o.undo = append(o.undo, func() {
		if had {
			o.leases[k] = prev
		} else {
			delete(o.leases, k)
		}
	})
	o.leases[k] = l
}

func (o *overlay) setHolder(ik string, mac *string) {
	prev, had := o.byIP[ik]
	o.undo = append(o.undo, func() {
		if had {
			o.byIP[ik] = prev
		} else {
			delete(o.byIP, ik)
		}
	})
	o.byIP[ik] = mac
}

// batch applies ops, or none of them if one is refused, and returns them
// canonical (deletes of leases that do not exist left out).
func (o *overlay) batch(ops []LeaseOp) ([]LeaseOp, error) {
	o.undo = o.undo[:0]
	out := make([]LeaseOp, 0, len(ops))
	for _, op := range ops {
		c, keep, err := o.op(op)
		if err != nil && len(ops) > 1 {
			err = fmt.Errorf("lease %s on %s: %w", op.Lease.MAC, op.Lease.Network, err)
		}
		if err != nil {
			for i := len(o.undo) - 1; i >= 0; i-- {
				o.undo[i]()
			}
			return nil, err
		}
		if keep {
			out = append(out, c)
		}
	}
	return out, nil
}

func (o *overlay) op(op LeaseOp) (LeaseOp, bool, error) {
	l := op.Lease
	mac, err := canonicalMAC(l.MAC)
	if err != nil {
		return op, false, err
	}
	if err := checkNetwork(l.Network); err != nil {
		return op, false, err
	}
	k := string(leaseKey(l.Network, mac))
	old, had := o.lease(k)
	if op.Delete {
		if !had {
			return op, false, nil
		}
		if ik := string(leaseIPKey(old.Network, old.IP)); o.holderIs(ik, mac) {
			o.setHolder(ik, nil)
		}
		o.setLease(k, nil)
		return LeaseOp{Delete: true, Lease: Lease{Network: l.Network, MAC: mac}}, true, nil
	}
	if !l.IP.IsValid() {
		return op, false, fmt.Errorf("no ip: %w", ErrInvalid)
	}
	c := Lease{
		Network: l.Network, MAC: mac, IP: l.IP.Unmap().WithZone(""), Hostname: l.Hostname,
		Start: l.Start.UTC(), Expiry: l.Expiry.UTC(), Reserved: l.Reserved,
	}
	ik := string(leaseIPKey(c.Network, c.IP))
	if holder, ok := o.holder(ik); ok && holder != mac {
		return op, false, fmt.Errorf("%s is leased to %s: %w", c.IP, holder, ErrIPInUse)
	}
	if had && old.IP != c.IP {
		if oik := string(leaseIPKey(old.Network, old.IP)); o.holderIs(oik, mac) {
			o.setHolder(oik, nil)
		}
	}
	o.setLease(k, &c)
	o.setHolder(ik, &mac)
	return LeaseOp{Lease: c}, true, nil
}

func (o *overlay) holderIs(ik, mac string) bool {
	h, ok := o.holder(ik)
	return ok && h == mac
}

// applyTo makes the overlay's changes in m.
func (o *overlay) applyTo(m memLeases) {
	for k, l := range o.leases {
		if l == nil {
			delete(m.leases, k)
		} else {
			m.leases[k] = *l
		}
	}
	for ik, mac := range o.byIP {
		if mac == nil {
			delete(m.byIP, ik)
		} else {
			m.byIP[ik] = *mac
		}
	}
}

func putLease(tx *bolt.Tx, l Lease) error {
	mac, err := canonicalMAC(l.MAC)
	if err != nil {
		return err
	}
	if err := checkNetwork(l.Network); err != nil {
		return err
	}
	if !l.IP.IsValid() {
		return fmt.Errorf("no ip: %w", ErrInvalid)
	}
	ip := l.IP.Unmap().WithZone("")
	leases, byIP := tx.Bucket(bucketLeases), tx.Bucket(bucketLeaseByIP)

	ipKey := leaseIPKey(l.Network, ip)
	if holder := byIP.Get(ipKey); holder != nil && string(holder) != mac {
		return fmt.Errorf("%s is leased to %s: %w", ip, holder, ErrIPInUse)
	}
	key := leaseKey(l.Network, mac)
	if raw := leases.Get(key); raw != nil {
		old, err := decodeLease(raw)
		if err != nil {
			return err
		}
		if old.IP != ip {
			if err := dropIPIndex(byIP, l.Network, old.IP, mac); err != nil {
				return err
			}
		}
	}
	rec := leaseRecord{
		Network: l.Network, MAC: mac, IP: ip.String(), Hostname: l.Hostname,
		Start: l.Start.UTC(), Expiry: l.Expiry.UTC(), Reserved: l.Reserved,
	}
	if err := putJSON(leases, key, rec); err != nil {
		return err
	}
	return byIP.Put(ipKey, []byte(mac))
}

// DeleteLease removes the lease of mac on network; deleting a lease that
// does not exist is not an error.
func (s *Store) DeleteLease(network, mac string) error {
	if err := s.CommitLeases([][]LeaseOp{{{Delete: true, Lease: Lease{Network: network, MAC: mac}}}})[0]; err != nil {
		return fmt.Errorf("store: delete lease %s on %s: %w", mac, network, err)
	}
	return nil
}

// deleteLease removes the lease under key and its IP index entry.
func deleteLease(tx *bolt.Tx, key []byte) (bool, error) {
	leases := tx.Bucket(bucketLeases)
	raw := leases.Get(key)
	if raw == nil {
		return false, nil
	}
	l, err := decodeLease(raw)
	if err != nil {
		return false, err
	}
	if err := dropIPIndex(tx.Bucket(bucketLeaseByIP), l.Network, l.IP, l.MAC); err != nil {
		return false, err
	}
	return true, leases.Delete(key)
}

// dropIPIndex deletes network+ip -> mac, if it still points at mac.
func dropIPIndex(byIP *bolt.Bucket, network string, ip netip.Addr, mac string) error {
	k := leaseIPKey(network, ip)
	if string(byIP.Get(k)) == mac {
		return byIP.Delete(k)
	}
	return nil
}

// Lease returns the lease of mac on network.
func (s *Store) Lease(network, mac string) (Lease, bool, error) {
	m, err := canonicalMAC(mac)
	if err != nil {
		return Lease{}, false, fmt.Errorf("store: get lease %s on %s: %w", mac, network, err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	l, ok := s.mem.leases[string(leaseKey(network, m))]
	return l, ok, nil
}

// LeaseByIP returns the lease holding ip on network.
func (s *Store) LeaseByIP(network string, ip netip.Addr) (Lease, bool, error) {
	if !ip.IsValid() {
		return Lease{}, false, fmt.Errorf("store: get lease of %s on %s: no ip: %w", ip, network, ErrInvalid)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	mac, ok := s.mem.byIP[string(leaseIPKey(network, ip.Unmap().WithZone("")))]
	if !ok {
		return Lease{}, false, nil
	}
	l, ok := s.mem.leases[string(leaseKey(network, mac))]
	if !ok {
		return Lease{}, false, fmt.Errorf("store: get lease of %s on %s: index names %s but it has no lease", ip, network, mac)
	}
	return l, true, nil
}

// Leases lists the leases of network ("" = every network), sorted by network
// then IP.
func (s *Store) Leases(network string) ([]Lease, error) {
	var out []Lease
	s.mu.RLock()
	for _, l := range s.mem.leases {
		if network == "" || l.Network == network {
			out = append(out, l)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Lease) int {
		if c := strings.Compare(a.Network, b.Network); c != 0 {
			return c
		}
		return a.IP.Compare(b.IP)
	})
	return out, nil
}

// DeleteExpiredLeases removes, in one batch, every lease with a non-zero
// Expiry at or before now (reserved ones included: their reservation lives
// in the lab file, not here), and returns how many.
func (s *Store) DeleteExpiredLeases(now time.Time) (int, error) {
	s.jmu.Lock()
	defer s.jmu.Unlock()
	var ops []LeaseOp
	for _, l := range s.mem.leases { // only jmu holders change mem
		if l.Expired(now) {
			ops = append(ops, LeaseOp{Delete: true, Lease: l})
		}
	}
	if len(ops) == 0 {
		return 0, nil
	}
	if err := s.commitLocked([][]LeaseOp{ops})[0]; err != nil {
		return 0, fmt.Errorf("store: delete expired leases: %w", err)
	}
	return len(ops), nil
}

func decodeLease(raw []byte) (Lease, error) {
	var r leaseRecord
	if err := json.Unmarshal(raw, &r); err != nil {
		return Lease{}, fmt.Errorf("decode lease: %w", err)
	}
	ip, err := netip.ParseAddr(r.IP)
	if err != nil {
		return Lease{}, fmt.Errorf("decode lease %s on %s: %w", r.MAC, r.Network, err)
	}
	return Lease{
		Network: r.Network, MAC: r.MAC, IP: ip, Hostname: r.Hostname,
		Start: r.Start, Expiry: r.Expiry, Reserved: r.Reserved,
	}, nil
}

func leaseKey(network, mac string) []byte { return []byte(network + "\x00" + mac) }

func leaseIPKey(network string, ip netip.Addr) []byte {
	a := ip.As16()
	return append([]byte(network+"\x00"), a[:]...)
}

// canonicalMAC parses any form net.ParseMAC accepts and returns the
// lower-case colon form.
func canonicalMAC(s string) (string, error) {
	hw, err := net.ParseMAC(s)
	if err != nil {
		return "", fmt.Errorf("mac %q: %w", s, ErrInvalid)
	}
	return hw.String(), nil
}

func checkNetwork(n string) error {
	if n == "" || strings.ContainsRune(n, 0) {
		return fmt.Errorf("network name %q: %w", n, ErrInvalid)
	}
	return nil
}
