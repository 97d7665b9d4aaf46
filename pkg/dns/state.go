package dns

import (
	"fmt"
	"log/slog"
	"net/netip"
	"strings"

	mdns "github.com/miekg/dns"
)

// state is one immutable compiled configuration; Reload swaps it whole.
type state struct {
	cfg   Config
	zones map[string]*zone // by canonical origin
	fwd   *forwarder       // nil without forwarders
	acl   []netip.Prefix
	dyn   *dynamicView // nil without a forward zone
	// reserved are the labels of the dynamic zone no client may take.
	reserved map[string]bool
	// answers holds packed authoritative replies for the UDP fast path.
	answers *packedAnswers
}

// compile validates cfg (with defaults applied) and builds a state.
func compile(cfg Config, names *DynamicNames, m *metrics, log *slog.Logger) (*state, error) {
	st := &state{cfg: cfg, zones: map[string]*zone{}, answers: newPackedAnswers(names)}
	serial := serialNow()
	for _, zc := range cfg.Zones {
		z, err := compileZone(zc, cfg.TTL, cfg.NegativeTTL, serial)
		if err != nil {
			return nil, fmt.Errorf("dns: compile %w", err)
		}
		if _, dup := st.zones[z.origin]; dup {
			return nil, fmt.Errorf("dns: compile zone %s: defined twice", z.origin)
		}
		st.zones[z.origin] = z
	}
	dynZone := ""
	if cfg.DynamicZone != "" {
		origin, err := canonicalFQDN(cfg.DynamicZone)
		if err != nil {
			return nil, fmt.Errorf("dns: dynamic zone %q: %w", cfg.DynamicZone, err)
		}
		if z := st.zones[origin]; z == nil || z.reverse {
			return nil, fmt.Errorf("dns: dynamic zone %s: not one of the forward zones", origin)
		}
		dynZone = origin
	} else {
		for _, zc := range cfg.Zones {
			if z := st.zones[mdns.CanonicalName(zc.Origin)]; !z.reverse {
				dynZone = z.origin
				break
			}
		}
	}
	if dynZone != "" {
		st.dyn = &dynamicView{names: names, zone: dynZone}
	}
	st.reserved = reservedSet(cfg.ReservedNames)
	if z := st.zones[dynZone]; z != nil {
		for name := range z.nodes {
			if label, ok := labelUnder(name, dynZone); ok {
				st.reserved[label] = true
			}
		}
	}
	for _, p := range cfg.RecursionFrom {
		if !p.IsValid() {
			return nil, fmt.Errorf("dns: recursion ACL: invalid prefix %v", p)
		}
		st.acl = append(st.acl, p.Masked())
	}
	var ups []netip.AddrPort
	for _, u := range cfg.Forwarders {
		if !u.Addr().IsValid() {
			return nil, fmt.Errorf("dns: forwarder %v: invalid address", u)
		}
		if u.Port() == 0 {
			u = netip.AddrPortFrom(u.Addr(), 53)
		}
		ups = append(ups, u)
	}
	if len(ups) > 0 {
		st.fwd = newForwarder(ups, cfg.UpstreamTimeout, newCache(cfg.CacheSize, cfg.MaxCacheTTL), m, log)
	}
	seen := map[netip.AddrPort]bool{}
	for _, l := range cfg.Listen {
		if !l.Addr().IsValid() {
			return nil, fmt.Errorf("dns: listen address %v: invalid", l)
		}
		if seen[l] {
			return nil, fmt.Errorf("dns: listen address %v: listed twice", l)
		}
		seen[l] = true
	}
	return st, nil
}

// zoneFor returns the zone holding qname (longest origin wins), or nil.
func (st *state) zoneFor(qname string) *zone {
	for name := qname; ; name = parent(name) {
		if z := st.zones[name]; z != nil {
			return z
		}
		if name == "." {
			return nil
		}
	}
}

// recursionAllowed says whether client may resolve names outside our zones.
func (st *state) recursionAllowed(client netip.Addr) bool {
	if client.IsLoopback() {
		return true
	}
	for _, p := range st.acl {
		if p.Contains(client) {
			return true
		}
	}
	return false
}

// labelUnder returns the label of name just below origin (ctrl for
// master-0.ctrl.<origin>), false if name is not under origin.
func labelUnder(name, origin string) (string, bool) {
	if !strings.HasSuffix(name, "."+origin) {
		return "", false
	}
	rest := strings.TrimSuffix(name, "."+origin)
	return rest[strings.LastIndexByte(rest, '.')+1:], true
}
