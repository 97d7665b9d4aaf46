package dns

import (
	"sync"
	"time"

	mdns "github.com/miekg/dns"
)

// cacheKey identifies one upstream question.
type cacheKey struct {
	name   string // canonical
	qtype  uint16
	qclass uint16
	do     bool
}

type cacheEntry struct {
	msg     *mdns.Msg // header bits, rcode and sections, without OPT
	stored  time.Time
	expires time.Time
}

// cache holds upstream answers for as long as their TTLs allow: positive
// answers for the smallest TTL in them, NXDOMAIN and NODATA for the SOA's
// negative TTL (RFC 2308 section 5), nothing else. It is bounded; when full
// it drops expired entries, then arbitrary ones.
type cache struct {
	mu      sync.Mutex
	entries map[cacheKey]*cacheEntry
	max     int
	maxTTL  time.Duration
	now     func() time.Time
}

func newCache(size int, maxTTL time.Duration) *cache {
	if size <= 0 {
		return nil
	}
	return &cache{entries: make(map[cacheKey]*cacheEntry), max: size, maxTTL: maxTTL, now: time.Now}
}

// get returns a copy of the cached answer with TTLs reduced by its age.
func (c *cache) get(k cacheKey) (*mdns.Msg, bool) {
	if c == nil {
		return nil, false
	}
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[k]
	if ok && !now.Before(e.expires) {
		delete(c.entries, k)
		ok = false
	}
	c.mu.Unlock()
	if !ok {
		return nil, false
	}
	age := uint32(now.Sub(e.stored) / time.Second)
	m := e.msg.Copy()
	for _, sec := range [][]mdns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			h := rr.Header()
			if h.Ttl > age {
				h.Ttl -= age
			} else {
				h.Ttl = 0
			}
		}
	}
	return m, true
}

// put caches resp if RFC 2308 and its TTLs allow.
func (c *cache) put(k cacheKey, resp *mdns.Msg) {
	if c == nil {
		return
	}
	ttl, ok := cacheTTL(resp)
	if !ok || ttl == 0 {
		return
	}
	d := min(time.Duration(ttl)*time.Second, c.maxTTL)
	m := resp.Copy()
	m.Id = 0
	m.Extra = withoutOPT(m.Extra)
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, exists := c.entries[k]; !exists && len(c.entries) >= c.max {
		c.evictLocked(now)
	}
	c.entries[k] = &cacheEntry{msg: m, stored: now, expires: now.Add(d)}
}

func (c *cache) evictLocked(now time.Time) {
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, k)
		}
	}
	for k := range c.entries {
		if len(c.entries) < c.max {
			return
		}
		delete(c.entries, k)
	}
}

// cacheTTL is how long resp may be cached, and whether it may be at all.
func cacheTTL(resp *mdns.Msg) (uint32, bool) {
	if resp.Truncated {
		return 0, false
	}
	switch {
	case resp.Rcode == mdns.RcodeSuccess && len(resp.Answer) > 0:
		ttl := ^uint32(0)
		for _, sec := range [][]mdns.RR{resp.Answer, resp.Ns} {
			for _, rr := range sec {
				ttl = min(ttl, rr.Header().Ttl)
			}
		}
		return ttl, true
	case resp.Rcode == mdns.RcodeSuccess || resp.Rcode == mdns.RcodeNameError:
		// Negative answer: cacheable only with a SOA (RFC 2308 section 5).
		for _, rr := range resp.Ns {
			if soa, ok := rr.(*mdns.SOA); ok {
				return min(soa.Hdr.Ttl, soa.Minttl), true
			}
		}
	}
	return 0, false
}

func withoutOPT(rrs []mdns.RR) []mdns.RR {
	out := rrs[:0]
	for _, rr := range rrs {
		if rr.Header().Rrtype != mdns.TypeOPT {
			out = append(out, rr)
		}
	}
	return out
}
