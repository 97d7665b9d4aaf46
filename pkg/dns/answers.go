package dns

import (
	"sync"
	"sync/atomic"

	mdns "github.com/miekg/dns"
)

// maxPackedAnswers bounds the packed-answer cache: clients can ask any name
// under a wildcard, so the cache is dropped whole when it gets this big.
const maxPackedAnswers = 8192

// answerKey is everything in a query that shapes an authoritative reply,
// apart from the message ID.
type answerKey struct {
	name    string // as asked: the reply echoes the client's spelling
	qtype   uint16
	qclass  uint16
	rd, cd  bool
	edns    bool
	do      bool
	bufsize uint16
	ra      bool // the client may recurse: sets RA in the reply
}

// packed is a ready-to-send authoritative reply; only the ID changes.
type packed struct {
	wire  []byte
	rcode int
}

// answerCache holds packed authoritative replies for one state and one
// generation of the dynamic names. Reload brings a new state and so a new
// cache; a change of the dynamic names drops it.
type answerCache struct {
	gen     uint64
	entries sync.Map // answerKey -> *packed
	n       atomic.Int64
}

// packedAnswers is the state's current answer cache.
type packedAnswers struct {
	cur   atomic.Pointer[answerCache]
	names *DynamicNames
}

func newPackedAnswers(names *DynamicNames) *packedAnswers {
	p := &packedAnswers{names: names}
	p.cur.Store(&answerCache{gen: names.gen.Load()})
	return p
}

// cache returns the cache for the current dynamic names.
func (p *packedAnswers) cache() *answerCache {
	c := p.cur.Load()
	if g := p.names.gen.Load(); c.gen != g {
		fresh := &answerCache{gen: g}
		if p.cur.CompareAndSwap(c, fresh) {
			return fresh
		}
		return p.cur.Load()
	}
	return c
}

func (c *answerCache) get(k answerKey) (*packed, bool) {
	v, ok := c.entries.Load(k)
	if !ok {
		return nil, false
	}
	return v.(*packed), true
}

func (c *answerCache) put(k answerKey, p *packed) {
	if c.n.Add(1) > maxPackedAnswers {
		c.entries.Clear()
		c.n.Store(0)
	}
	c.entries.Store(k, p)
}

// keyOf returns the cache key of a plain query: one question, nothing but
// an OPT in the other sections. ok is false for anything else.
func keyOf(r *mdns.Msg) (k answerKey, ok bool) {
	if r.Response || r.Opcode != mdns.OpcodeQuery || len(r.Question) != 1 || len(r.Answer) != 0 || len(r.Ns) != 0 || len(r.Extra) > 1 {
		return k, false
	}
	q := r.Question[0]
	k = answerKey{name: q.Name, qtype: q.Qtype, qclass: q.Qclass, rd: r.RecursionDesired, cd: r.CheckingDisabled}
	if len(r.Extra) == 1 {
		opt, isOPT := r.Extra[0].(*mdns.OPT)
		if !isOPT || opt.Version() != 0 || len(opt.Option) != 0 {
			return k, false
		}
		k.edns, k.do, k.bufsize = true, opt.Do(), opt.UDPSize()
	}
	return k, true
}
