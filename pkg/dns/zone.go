package dns

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	mdns "github.com/miekg/dns"
)

// zone is one compiled, immutable authoritative zone.
type zone struct {
	origin  string           // canonical (lower-case) FQDN
	reverse bool             // under in-addr.arpa. or ip6.arpa.
	nodes   map[string]*node // every existing name, empty non-terminals included
	negSOA  *mdns.SOA        // SOA for negative answers, TTL = min(TTL, minimum)
	ttl     uint32
}

// node holds the RRsets of one owner name; an empty map is an empty
// non-terminal, which exists (NODATA) but owns no data.
type node struct {
	rrsets map[uint16][]mdns.RR
}

// result is what the zone logic answers; the handler turns it into a reply.
type result struct {
	rcode  int
	answer []mdns.RR
	ns     []mdns.RR
	extra  []mdns.RR
}

func isReverse(origin string) bool {
	return mdns.IsSubDomain("in-addr.arpa.", origin) || mdns.IsSubDomain("ip6.arpa.", origin)
}

// compileZone validates z and builds its lookup structure.
func compileZone(z Zone, ttl, negTTL uint32, serial uint32) (*zone, error) {
	origin, err := canonicalFQDN(z.Origin)
	if err != nil {
		return nil, fmt.Errorf("zone origin %q: %w", z.Origin, err)
	}
	ns, err := canonicalFQDN(z.NS)
	if err != nil {
		return nil, fmt.Errorf("zone %s: name server %q: %w", origin, z.NS, err)
	}
	c := &zone{origin: origin, reverse: isReverse(origin), nodes: map[string]*node{}, ttl: ttl}
	soa := &mdns.SOA{
		Hdr:     mdns.RR_Header{Name: origin, Rrtype: mdns.TypeSOA, Class: mdns.ClassINET, Ttl: ttl},
		Ns:      ns,
		Mbox:    "hostmaster." + origin,
		Serial:  serial,
		Refresh: 3600,
		Retry:   600,
		Expire:  86400,
		Minttl:  negTTL,
	}
	c.add(soa)
	c.add(&mdns.NS{Hdr: mdns.RR_Header{Name: origin, Rrtype: mdns.TypeNS, Class: mdns.ClassINET, Ttl: ttl}, Ns: ns})
	c.negSOA = mdns.Copy(soa).(*mdns.SOA)
	c.negSOA.Hdr.Ttl = min(ttl, negTTL)

	for _, r := range z.Records {
		rr, err := buildRR(origin, r, ttl)
		if err != nil {
			return nil, fmt.Errorf("zone %s: record %s %s %q: %w", origin, r.Name, mdns.TypeToString[r.Type], r.Value, err)
		}
		if err := c.checkCNAME(rr); err != nil {
			return nil, fmt.Errorf("zone %s: record %s: %w", origin, r.Name, err)
		}
		c.add(rr)
	}
	return c, nil
}

// canonicalFQDN lower-cases s and checks it is an absolute domain name.
func canonicalFQDN(s string) (string, error) {
	if !mdns.IsFqdn(s) {
		return "", fmt.Errorf("not a fully qualified name (must end in a dot)")
	}
	if _, ok := mdns.IsDomainName(s); !ok {
		return "", fmt.Errorf("not a valid domain name")
	}
	return mdns.CanonicalName(s), nil
}

func buildRR(origin string, r Record, ttl uint32) (mdns.RR, error) {
	name, err := canonicalFQDN(r.Name)
	if err != nil {
		return nil, err
	}
	if !mdns.IsSubDomain(origin, name) {
		return nil, fmt.Errorf("name is outside the zone")
	}
	if i := strings.LastIndex(name, "*"); i > 0 || (i == 0 && !strings.HasPrefix(name, "*.")) {
		return nil, fmt.Errorf("a wildcard must be the whole leftmost label")
	}
	hdr := mdns.RR_Header{Name: name, Rrtype: r.Type, Class: mdns.ClassINET, Ttl: ttl}
	switch r.Type {
	case mdns.TypeA, mdns.TypeAAAA:
		a, err := netip.ParseAddr(r.Value)
		if err != nil {
			return nil, fmt.Errorf("parse address: %w", err)
		}
		if r.Type == mdns.TypeA {
			if !a.Is4() {
				return nil, fmt.Errorf("an A record needs an IPv4 address")
			}
			return &mdns.A{Hdr: hdr, A: a.AsSlice()}, nil
		}
		if !a.Is6() || a.Is4In6() {
			return nil, fmt.Errorf("an AAAA record needs an IPv6 address")
		}
		return &mdns.AAAA{Hdr: hdr, AAAA: a.AsSlice()}, nil
	case mdns.TypePTR, mdns.TypeCNAME:
		target, err := canonicalFQDN(r.Value)
		if err != nil {
			return nil, fmt.Errorf("target: %w", err)
		}
		if r.Type == mdns.TypePTR {
			return &mdns.PTR{Hdr: hdr, Ptr: target}, nil
		}
		if name == origin {
			return nil, fmt.Errorf("CNAME not allowed at the zone apex")
		}
		return &mdns.CNAME{Hdr: hdr, Target: target}, nil
	case mdns.TypeTXT:
		if len(r.Value) > 255 {
			return nil, fmt.Errorf("TXT longer than 255 bytes")
		}
		return &mdns.TXT{Hdr: hdr, Txt: []string{r.Value}}, nil
	default:
		return nil, fmt.Errorf("unsupported type (want A, AAAA, PTR, CNAME or TXT)")
	}
}

// checkCNAME rejects a CNAME next to other data at the same name (RFC 1034 3.6.2).
func (z *zone) checkCNAME(rr mdns.RR) error {
	n := z.nodes[rr.Header().Name]
	if n == nil || len(n.rrsets) == 0 {
		return nil
	}
	_, hasCNAME := n.rrsets[mdns.TypeCNAME]
	if rr.Header().Rrtype == mdns.TypeCNAME || hasCNAME {
		return fmt.Errorf("CNAME cannot coexist with other records at the same name")
	}
	return nil
}

// add stores rr (deduplicated) and creates the empty non-terminals above it.
func (z *zone) add(rr mdns.RR) {
	name := rr.Header().Name
	n := z.ensure(name)
	for _, have := range n.rrsets[rr.Header().Rrtype] {
		if mdns.IsDuplicate(have, rr) {
			return
		}
	}
	n.rrsets[rr.Header().Rrtype] = append(n.rrsets[rr.Header().Rrtype], rr)
	for name != z.origin {
		off, _ := mdns.NextLabel(name, 0)
		name = name[off:]
		z.ensure(name)
	}
}

func (z *zone) ensure(name string) *node {
	n := z.nodes[name]
	if n == nil {
		n = &node{rrsets: map[uint16][]mdns.RR{}}
		z.nodes[name] = n
	}
	return n
}

// parent strips the leftmost label of name.
func parent(name string) string {
	off, end := mdns.NextLabel(name, 0)
	if end {
		return "."
	}
	return name[off:]
}

// lookup answers qtype for qname (canonical, inside the zone) by RFC 1034
// 4.3.2 and RFC 4592: an existing name (even an empty non-terminal) is never
// matched by a wildcard, and only the wildcard child of the closest encloser
// may synthesize an answer. asked is the name as the client spelled it and
// becomes the owner of synthesized records. dyn may be nil.
func (z *zone) lookup(qname, asked string, qtype uint16, dyn *dynamicView) result {
	const maxChain = 8
	var res result
	for range maxChain {
		n, synth := z.find(qname, dyn)
		if n == nil {
			res.rcode = mdns.RcodeNameError
			res.ns = []mdns.RR{z.negSOA}
			return res
		}
		owner := ""
		if synth {
			owner = asked
		}
		if rrs := n.get(qtype); len(rrs) > 0 {
			res.answer = append(res.answer, withOwner(rrs, owner)...)
			if qtype == mdns.TypeNS {
				res.extra = z.glue(rrs, dyn)
			}
			return res
		}
		cname := n.rrsets[mdns.TypeCNAME]
		if len(cname) == 0 || qtype == mdns.TypeCNAME {
			if len(res.answer) == 0 {
				res.ns = []mdns.RR{z.negSOA}
			}
			return res
		}
		res.answer = append(res.answer, withOwner(cname, owner)...)
		target := cname[0].(*mdns.CNAME).Target
		if !mdns.IsSubDomain(z.origin, target) {
			return res // the client's resolver follows it
		}
		qname, asked = target, target
	}
	return res
}

// get returns the RRsets for qtype; ANY returns them all.
func (n *node) get(qtype uint16) []mdns.RR {
	if qtype != mdns.TypeANY {
		return n.rrsets[qtype]
	}
	var all []mdns.RR
	for _, rrs := range n.rrsets {
		all = append(all, rrs...)
	}
	return all
}

// find returns the node for qname, or the wildcard node that synthesizes
// it (synth true), or nil when the name does not exist.
func (z *zone) find(qname string, dyn *dynamicView) (n *node, synth bool) {
	if n := z.exact(qname, dyn); n != nil {
		return n, false
	}
	// Closest encloser: the longest existing ancestor. The apex always exists.
	name := qname
	for name != z.origin {
		name = parent(name)
		if z.exact(name, dyn) != nil {
			break
		}
	}
	if w := z.nodes["*."+name]; w != nil {
		return w, true
	}
	return nil, false
}

// exact returns the static node for name, else a node built from the
// dynamic names, else nil.
func (z *zone) exact(name string, dyn *dynamicView) *node {
	if n := z.nodes[name]; n != nil {
		return n
	}
	if dyn == nil {
		return nil
	}
	if z.reverse {
		if host, ok := dyn.ptr(name); ok {
			return &node{rrsets: map[uint16][]mdns.RR{mdns.TypePTR: {&mdns.PTR{
				Hdr: mdns.RR_Header{Name: name, Rrtype: mdns.TypePTR, Class: mdns.ClassINET, Ttl: z.ttl},
				Ptr: host,
			}}}}
		}
		return nil
	}
	if z.origin != dyn.zone || parent(name) != z.origin {
		return nil
	}
	addr, ok := dyn.addr(name[:len(name)-len(z.origin)-1])
	if !ok {
		return nil
	}
	return &node{rrsets: map[uint16][]mdns.RR{addrType(addr): {addrRR(name, addr, z.ttl)}}}
}

func addrType(a netip.Addr) uint16 {
	if a.Is4() {
		return mdns.TypeA
	}
	return mdns.TypeAAAA
}

func addrRR(name string, a netip.Addr, ttl uint32) mdns.RR {
	hdr := mdns.RR_Header{Name: name, Rrtype: addrType(a), Class: mdns.ClassINET, Ttl: ttl}
	if a.Is4() {
		return &mdns.A{Hdr: hdr, A: a.AsSlice()}
	}
	return &mdns.AAAA{Hdr: hdr, AAAA: a.AsSlice()}
}

// glue returns in-zone addresses of the name servers in nsRRs.
func (z *zone) glue(nsRRs []mdns.RR, dyn *dynamicView) []mdns.RR {
	var extra []mdns.RR
	for _, rr := range nsRRs {
		ns, ok := rr.(*mdns.NS)
		if !ok || !mdns.IsSubDomain(z.origin, ns.Ns) {
			continue
		}
		if n, _ := z.find(ns.Ns, dyn); n != nil {
			extra = append(extra, n.rrsets[mdns.TypeA]...)
			extra = append(extra, n.rrsets[mdns.TypeAAAA]...)
		}
	}
	return extra
}

// withOwner returns rrs, or copies of them owned by owner when owner is set
// (wildcard synthesis).
func withOwner(rrs []mdns.RR, owner string) []mdns.RR {
	if owner == "" {
		return rrs
	}
	out := make([]mdns.RR, len(rrs))
	for i, rr := range rrs {
		c := mdns.Copy(rr)
		c.Header().Name = owner
		out[i] = c
	}
	return out
}

// serialNow is the SOA serial of a freshly compiled zone set: seconds since
// the epoch, so every reload increases it.
func serialNow() uint32 { return uint32(time.Now().Unix()) }
