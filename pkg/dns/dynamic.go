package dns

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"

	mdns "github.com/miekg/dns"
)

// DynamicNames is the record source the DHCP server feeds from lease events:
// host names of clients, answered as host.<dynamic zone> (A or AAAA) and as a
// PTR in the reverse zone that holds the address. Static zone records always
// win over dynamic ones. It is safe for concurrent use.
type DynamicNames struct {
	mu     sync.RWMutex
	byHost map[string]netip.Addr // lower-case label -> address
	byRev  map[string]string     // reverse FQDN -> lower-case label
	gen    atomic.Uint64         // bumped on every change; invalidates packed answers
}

func newDynamicNames() *DynamicNames {
	return &DynamicNames{byHost: map[string]netip.Addr{}, byRev: map[string]string{}}
}

// Set names addr host. host must be a single DNS label (letters, digits,
// hyphens; it is lower-cased). A host that already had an address, or an
// address that already had a host, loses the old mapping, so A and PTR stay
// consistent.
func (d *DynamicNames) Set(host string, addr netip.Addr) error {
	label, err := hostLabel(host)
	if err != nil {
		return fmt.Errorf("dns: set dynamic name %q: %w", host, err)
	}
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
	d.removeLocked(label)
	if other, ok := d.byRev[rev]; ok {
		d.removeLocked(other)
	}
	d.byHost[label] = addr
	d.byRev[rev] = label
	d.gen.Add(1)
	return nil
}

// Remove forgets host; unknown hosts are ignored.
func (d *DynamicNames) Remove(host string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.removeLocked(strings.ToLower(host))
	d.gen.Add(1)
}

func (d *DynamicNames) removeLocked(label string) {
	addr, ok := d.byHost[label]
	if !ok {
		return
	}
	delete(d.byHost, label)
	if rev, err := mdns.ReverseAddr(addr.String()); err == nil && d.byRev[rev] == label {
		delete(d.byRev, rev)
	}
}

// Lookup returns the address of host.
func (d *DynamicNames) Lookup(host string) (netip.Addr, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	a, ok := d.byHost[strings.ToLower(host)]
	return a, ok
}

// Len is the number of dynamic names.
func (d *DynamicNames) Len() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.byHost)
}

// hostLabel checks that host is one LDH label and lower-cases it.
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
	a, ok := v.names.byHost[label]
	return a, ok
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
