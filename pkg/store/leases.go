package store

import (
	"bytes"
	"encoding/json"
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
	if err := s.db.Update(func(tx *bolt.Tx) error { return putLease(tx, l) }); err != nil {
		return fmt.Errorf("store: put lease %s on %s: %w", l.MAC, l.Network, err)
	}
	return nil
}

// PutLeases records several leases in one transaction (one fsync): all of
// them or, on error, none.
func (s *Store) PutLeases(ls []Lease) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, l := range ls {
			if err := putLease(tx, l); err != nil {
				return fmt.Errorf("lease %s on %s: %w", l.MAC, l.Network, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: put %d leases: %w", len(ls), err)
	}
	return nil
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
	err := s.db.Update(func(tx *bolt.Tx) error {
		m, err := canonicalMAC(mac)
		if err != nil {
			return err
		}
		_, err = deleteLease(tx, leaseKey(network, m))
		return err
	})
	if err != nil {
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
	var (
		l     Lease
		found bool
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		m, err := canonicalMAC(mac)
		if err != nil {
			return err
		}
		raw := tx.Bucket(bucketLeases).Get(leaseKey(network, m))
		if raw == nil {
			return nil
		}
		l, err = decodeLease(raw)
		found = err == nil
		return err
	})
	if err != nil {
		return Lease{}, false, fmt.Errorf("store: get lease %s on %s: %w", mac, network, err)
	}
	return l, found, nil
}

// LeaseByIP returns the lease holding ip on network.
func (s *Store) LeaseByIP(network string, ip netip.Addr) (Lease, bool, error) {
	var (
		l     Lease
		found bool
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		if !ip.IsValid() {
			return fmt.Errorf("no ip: %w", ErrInvalid)
		}
		mac := tx.Bucket(bucketLeaseByIP).Get(leaseIPKey(network, ip.Unmap().WithZone("")))
		if mac == nil {
			return nil
		}
		raw := tx.Bucket(bucketLeases).Get(leaseKey(network, string(mac)))
		if raw == nil {
			return fmt.Errorf("index names %s but it has no lease", mac)
		}
		var err error
		l, err = decodeLease(raw)
		found = err == nil
		return err
	})
	if err != nil {
		return Lease{}, false, fmt.Errorf("store: get lease of %s on %s: %w", ip, network, err)
	}
	return l, found, nil
}

// Leases lists the leases of network ("" = every network), sorted by network
// then IP.
func (s *Store) Leases(network string) ([]Lease, error) {
	var out []Lease
	err := s.db.View(func(tx *bolt.Tx) error {
		var prefix []byte
		if network != "" {
			prefix = []byte(network + "\x00")
		}
		c := tx.Bucket(bucketLeases).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			l, err := decodeLease(v)
			if err != nil {
				return fmt.Errorf("key %q: %w", k, err)
			}
			out = append(out, l)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: list leases of %q: %w", network, err)
	}
	slices.SortFunc(out, func(a, b Lease) int {
		if c := strings.Compare(a.Network, b.Network); c != 0 {
			return c
		}
		return a.IP.Compare(b.IP)
	})
	return out, nil
}

// DeleteExpiredLeases removes, in one transaction, every lease with a
// non-zero Expiry at or before now (reserved ones included: their
// reservation lives in the lab file, not here), and returns how many.
func (s *Store) DeleteExpiredLeases(now time.Time) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		n = 0
		var expired [][]byte
		err := tx.Bucket(bucketLeases).ForEach(func(k, v []byte) error {
			l, err := decodeLease(v)
			if err != nil {
				return fmt.Errorf("key %q: %w", k, err)
			}
			if l.Expired(now) {
				expired = append(expired, slices.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range expired {
			if _, err := deleteLease(tx, k); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: delete expired leases: %w", err)
	}
	return n, nil
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
