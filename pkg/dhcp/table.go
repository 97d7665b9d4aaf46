package dhcp

import (
	"net/netip"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/store"
)

// offerHold is how long an offered address is kept for the client that was
// offered it.
const offerHold = 30 * time.Second

// table is the in-memory lease state of one network. It is the authority
// for allocation; the store is its durable copy. Guarded by Server.mu.
type table struct {
	leases   map[string]*store.Lease // MAC -> lease (acknowledged or being committed)
	byIP     map[netip.Addr]string   // IP -> MAC holding a lease
	offers   map[string]offer        // MAC -> outstanding offer
	offered  map[netip.Addr]string   // IP -> MAC it is offered to
	declined map[netip.Addr]time.Time
	cursor   uint32 // next pool address to try
}

type offer struct {
	ip    netip.Addr
	until time.Time
}

func newTable() *table {
	return &table{
		leases: map[string]*store.Lease{}, byIP: map[netip.Addr]string{},
		offers: map[string]offer{}, offered: map[netip.Addr]string{},
		declined: map[netip.Addr]time.Time{},
	}
}

// set records l (replacing the MAC's earlier lease) and returns the lease it
// replaced, if any.
func (t *table) set(l *store.Lease) *store.Lease {
	prev := t.leases[l.MAC]
	if prev != nil && t.byIP[prev.IP] == l.MAC {
		delete(t.byIP, prev.IP)
	}
	t.leases[l.MAC] = l
	t.byIP[l.IP] = l.MAC
	t.clearOffer(l.MAC)
	return prev
}

// remove drops the lease of mac and returns it.
func (t *table) remove(mac string) *store.Lease {
	l := t.leases[mac]
	if l == nil {
		return nil
	}
	delete(t.leases, mac)
	if t.byIP[l.IP] == mac {
		delete(t.byIP, l.IP)
	}
	return l
}

func (t *table) setOffer(mac string, ip netip.Addr, until time.Time) {
	t.clearOffer(mac)
	t.offers[mac] = offer{ip: ip, until: until}
	t.offered[ip] = mac
}

func (t *table) clearOffer(mac string) {
	if o, ok := t.offers[mac]; ok {
		delete(t.offers, mac)
		if t.offered[o.ip] == mac {
			delete(t.offered, o.ip)
		}
	}
}

// usable says whether ip may be given to mac on n now. evict names another
// MAC whose expired lease holds ip and must be deleted first ("" if none).
func (t *table) usable(n *network, mac string, ip netip.Addr, now time.Time) (ok bool, evict string) {
	if !ip.Is4() || !n.Subnet.Contains(ip) || ip == n.Subnet.Addr() || ip == n.broadcast ||
		ip == n.ServerIP || ip == n.Router {
		return false, ""
	}
	if owner, ok := n.byIP[ip]; ok && owner != mac {
		return false, "" // reserved for another node
	}
	if until, ok := t.declined[ip]; ok && now.Before(until) {
		return false, ""
	}
	if other, ok := t.offered[ip]; ok && other != mac {
		if o := t.offers[other]; o.ip == ip && now.Before(o.until) {
			return false, ""
		}
	}
	if other, ok := t.byIP[ip]; ok && other != mac {
		if l := t.leases[other]; l != nil && !l.Expired(now) {
			return false, ""
		}
		return true, other
	}
	return true, ""
}

// free picks an unheld pool address for mac, preferring addresses never
// leased (or whose lease is gone) over those held by expired leases.
func (t *table) free(n *network, mac string, now time.Time) (ip netip.Addr, evict string, ok bool) {
	if !n.hasPool {
		return netip.Addr{}, "", false
	}
	start, size := u32(n.Pool[0]), uint32(n.poolSize)
	var fallback netip.Addr
	var fallbackEvict string
	for i := uint32(0); i < size; i++ {
		a := addrFrom32(start + (t.cursor+i)%size)
		ok, ev := t.usable(n, mac, a, now)
		if !ok {
			continue
		}
		if ev == "" {
			t.cursor = (t.cursor + i + 1) % size
			return a, "", true
		}
		if !fallback.IsValid() {
			fallback, fallbackEvict = a, ev
		}
	}
	if fallback.IsValid() {
		return fallback, fallbackEvict, true
	}
	return netip.Addr{}, "", false
}

// sweep drops expired offers and quarantines, and removes expired leases,
// returning them.
func (t *table) sweep(now time.Time) []*store.Lease {
	for mac, o := range t.offers {
		if !now.Before(o.until) {
			t.clearOffer(mac)
		}
	}
	for ip, until := range t.declined {
		if !now.Before(until) {
			delete(t.declined, ip)
		}
	}
	var gone []*store.Lease
	for mac, l := range t.leases {
		if l.Expired(now) {
			gone = append(gone, t.remove(mac))
		}
	}
	return gone
}

// active counts unexpired leases and those of them inside the pool.
func (t *table) active(n *network, now time.Time) (leases, inPool int) {
	for _, l := range t.leases {
		if l.Expired(now) {
			continue
		}
		leases++
		if n.inPool(l.IP) {
			inPool++
		}
	}
	return leases, inPool
}
