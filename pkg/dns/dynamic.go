package dns

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mdns "github.com/miekg/dns"
)

// Reasons a dynamic name is refused: the reason label of
// cn2_appliance_dns_dynamic_names_refused_total and RefusedError.Reason.
const (
	RefusedInvalid  = "invalid"  // not a valid host name label
	RefusedReserved = "reserved" // a name the lab keeps for itself
	RefusedTaken    = "taken"    // held by another client's live lease
)

var refusedReasons = []string{RefusedInvalid, RefusedReserved, RefusedTaken}

// alwaysReserved are labels no client may take in any lab, whatever the zones hold:
// localhost, and wpad (a client named wpad would be every browser's proxy
// auto-configuration server).
var alwaysReserved = []string{"localhost", "wpad"}

// maxLoggedOwners bounds the memory of which owners' refusals were logged; a flood of
// random MACs clears it now and then, which only means some are logged again.
const maxLoggedOwners = 4096

// RefusedError is why Claim did not give a client a name.
type RefusedError struct {
	Host   string
	Reason string // one of the Refused* constants
	Detail string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("dns: dynamic name %q refused (%s): %s", e.Host, e.Reason, e.Detail)
}

// DynamicNames is the record source the DHCP server feeds from lease events:
// host names of clients, answered as host.<dynamic zone> (A or AAAA) and as a
// PTR in the reverse zone that holds the address. A name is given only if it
// is a valid host name label, not reserved by the lab (Config.ReservedNames and
// every label the zones hold at or under host.<dynamic zone>), and not held by
// another owner's lease that has not run out. It is safe for concurrent use.
type DynamicNames struct {
	mu       sync.RWMutex
	byHost   map[string]dynName // lower-case label -> its holder
	byRev    map[string]string  // reverse FQDN -> lower-case label
	byOwner  map[string]string  // owner -> lower-case label
	reserved map[string]bool    // lower-case labels no owner may take
	logged   map[string]bool    // owners whose refusal was logged
	gen      atomic.Uint64      // bumped on every change; invalidates packed answers

	log     *slog.Logger
	refused func(reason string) // counts a refusal; nil: not counted
	now     func() time.Time
}

type dynName struct {
	addr  netip.Addr
	owner string
	until time.Time // zero: no expiry
}

func newDynamicNames(log *slog.Logger) *DynamicNames {
	return &DynamicNames{byHost: map[string]dynName{}, byRev: map[string]string{}, byOwner: map[string]string{},
		reserved: reservedSet(nil), logged: map[string]bool{}, log: log, now: time.Now}
}

func reservedSet(labels []string) map[string]bool {
	set := map[string]bool{}
	for _, l := range append(labels, alwaysReserved...) {
		set[strings.ToLower(l)] = true
	}
	return set
}

// Claim names addr host for owner (a client's MAC) until until (zero: until released).
// The owner's previous name, and the name previously on addr, are dropped, so A and PTR
// stay consistent. A refused name returns a *RefusedError, is counted in the metrics and
// logged once per owner.
func (d *DynamicNames) Claim(owner, host string, addr netip.Addr, until time.Time) error {
	if !addr.IsValid() {
		return fmt.Errorf("dns: set dynamic name %q: invalid address", host)
	}
	addr = addr.Unmap()
	rev, err := mdns.ReverseAddr(addr.String())
	if err != nil {
		return fmt.Errorf("dns: set dynamic name %q: reverse of %s: %w", host, addr, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	label, err := hostLabel(host)
	if err != nil {
		return d.refuseLocked(owner, host, RefusedInvalid, err.Error())
	}
	if d.reserved[label] {
		return d.refuseLocked(owner, host, RefusedReserved, "the lab keeps this name")
	}
	if cur, ok := d.byHost[label]; ok && cur.owner != owner && (cur.until.IsZero() || d.now().Before(cur.until)) {
		return d.refuseLocked(owner, host, RefusedTaken, fmt.Sprintf("held by %s until its lease ends", cur.owner))
	}
	d.removeLocked(label)
	if old, ok := d.byOwner[owner]; ok {
		d.removeLocked(old)
	}
	if other, ok := d.byRev[rev]; ok {
		d.removeLocked(other)
	}
	d.byHost[label] = dynName{addr: addr, owner: owner, until: until}
	d.byRev[rev] = label
	d.byOwner[owner] = label
	d.gen.Add(1)
	return nil
}

func (d *DynamicNames) refuseLocked(owner, host, reason, detail string) error {
	if d.refused != nil {
		d.refused(reason)
	}
	if !d.logged[owner] {
		if len(d.logged) >= maxLoggedOwners {
			clear(d.logged)
		}
		d.logged[owner] = true
		d.log.Warn("dns: dynamic name refused", "mac", owner, "hostname", host, "reason", reason, "detail", detail)
	}
	return &RefusedError{Host: host, Reason: reason, Detail: detail}
}

// IsRefused reports whether err is a refusal of Claim, and its reason.
func IsRefused(err error) (reason string, ok bool) {
	var re *RefusedError
	if errors.As(err, &re) {
		return re.Reason, true
	}
	return "", false
}

// Release forgets host if owner holds it.
func (d *DynamicNames) Release(owner, host string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	label := strings.ToLower(host)
	if cur, ok := d.byHost[label]; ok && cur.owner == owner {
		d.removeLocked(label)
		d.gen.Add(1)
	}
}

// Remove forgets host, whoever holds it; unknown hosts are ignored.
func (d *DynamicNames) Remove(host string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.removeLocked(strings.ToLower(host))
	d.gen.Add(1)
}

// reserve replaces the reserved labels and drops the names that are now reserved.
func (d *DynamicNames) reserve(labels map[string]bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.reserved = labels
	for label := range d.byHost {
		if labels[label] {
			d.removeLocked(label)
		}
	}
	d.gen.Add(1)
}

func (d *DynamicNames) removeLocked(label string) {
	cur, ok := d.byHost[label]
	if !ok {
		return
	}
	delete(d.byHost, label)
	if d.byOwner[cur.owner] == label {
		delete(d.byOwner, cur.owner)
	}
	if rev, err := mdns.ReverseAddr(cur.addr.String()); err == nil && d.byRev[rev] == label {
		delete(d.byRev, rev)
	}
}

// Lookup returns the address of host.
func (d *DynamicNames) Lookup(host string) (netip.Addr, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	n, ok := d.byHost[strings.ToLower(host)]
	return n.addr, ok
}

// Len is the number of dynamic names.
func (d *DynamicNames) Len() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.byHost)
}

// hostLabel checks that host is one host name label (RFC 1123: 1 to 63 letters, digits
// and inner hyphens) and lower-cases it.
func hostLabel(host string) (string, error) {
	if host == "" || len(host) > 63 {
		return "", fmt.Errorf("a host name must be 1 to 63 characters")
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' && i > 0 && i < len(host)-1
		if !ok {
			return "", fmt.Errorf("a host name is a single label of letters, digits and inner hyphens")
		}
	}
	return strings.ToLower(host), nil
}

// dynamicView is how a compiled state sees the dynamic names.
type dynamicView struct {
	names *DynamicNames
	zone  string // canonical origin of the forward zone for dynamic hosts
}

func (v *dynamicView) addr(label string) (netip.Addr, bool) {
	v.names.mu.RLock()
	defer v.names.mu.RUnlock()
	n, ok := v.names.byHost[label]
	return n.addr, ok
}

func (v *dynamicView) ptr(rev string) (string, bool) {
	v.names.mu.RLock()
	defer v.names.mu.RUnlock()
	label, ok := v.names.byRev[rev]
	if !ok {
		return "", false
	}
	return label + "." + v.zone, true
}
