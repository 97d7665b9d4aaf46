package dns

import (
	"net/netip"
	"time"

	mdns "github.com/miekg/dns"
)

// Record types accepted in Record.Type, re-exported so callers need not
// import github.com/miekg/dns next to this package.
const (
	TypeA     = mdns.TypeA
	TypeAAAA  = mdns.TypeAAAA
	TypePTR   = mdns.TypePTR
	TypeCNAME = mdns.TypeCNAME
	TypeTXT   = mdns.TypeTXT
)

// Defaults used when the matching Config field is zero.
const (
	DefaultTTL             = 60
	DefaultUpstreamTimeout = 2 * time.Second
	DefaultCacheSize       = 10000
	DefaultMaxCacheTTL     = time.Hour
)

// Config is everything the server needs. Zero values get sane defaults.
type Config struct {
	// Listen gets one UDP and one TCP listener per address: the appliance's
	// address on each lab network plus 127.0.0.1. Port 53 in production; a
	// port of 0 picks a free one (the same for UDP and TCP), see Server.Addrs.
	Listen []netip.AddrPort
	// Zones are answered authoritatively: the cluster zone and one reverse
	// zone per lab network.
	Zones []Zone
	// DynamicZone is the origin under which DynamicNames are answered
	// (host.<DynamicZone>). Empty means the first zone that is not a reverse
	// zone. PTRs for dynamic names go into whichever reverse zone holds them.
	DynamicZone string
	// ReservedNames are labels under DynamicZone that no client may take as its
	// dynamic name (compared case-insensitively), besides every label under
	// which the zones hold a record (api, a node, apps of *.apps, ...) and
	// localhost and wpad. A name that becomes reserved on a reload is dropped.
	ReservedNames []string
	// Forwarders are the upstream resolvers, tried in order with failover.
	Forwarders []netip.AddrPort
	// RecursionFrom are the networks whose clients may resolve names outside
	// the zones; loopback is always allowed. Other clients get REFUSED for
	// such names (they still get the authoritative answers).
	RecursionFrom []netip.Prefix
	// TTL of authoritative answers (DefaultTTL when zero).
	TTL uint32
	// NegativeTTL is the SOA minimum, i.e. how long NXDOMAIN and NODATA
	// answers may be cached (RFC 2308). Zero means TTL.
	NegativeTTL uint32
	// UpstreamTimeout bounds one exchange with one upstream.
	UpstreamTimeout time.Duration
	// CacheSize is the number of cached upstream answers; negative disables
	// the cache.
	CacheSize int
	// MaxCacheTTL caps how long an upstream answer is cached.
	MaxCacheTTL time.Duration
	// UDPSockets is the number of SO_REUSEPORT UDP sockets per listen
	// address, each with its own reader. Zero means GOMAXPROCS.
	UDPSockets int
}

// Zone is one authoritative zone.
type Zone struct {
	Origin  string   // FQDN, e.g. "mycluster.contrail.lan." or "0.16.172.in-addr.arpa."
	NS      string   // FQDN of the name server, e.g. "ns.mycluster.contrail.lan."
	Records []Record // records in the zone; SOA and NS are generated
}

// Record is one resource record of a zone.
type Record struct {
	// Name is the owner FQDN. A leftmost "*" label makes a wildcard
	// (RFC 4592), e.g. "*.apps.mycluster.contrail.lan.".
	Name string
	// Type is TypeA, TypeAAAA, TypePTR, TypeCNAME or TypeTXT.
	Type uint16
	// Value is the address for A/AAAA, the target FQDN for PTR/CNAME and
	// the text for TXT.
	Value string
}

func (c Config) withDefaults() Config {
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.NegativeTTL == 0 {
		c.NegativeTTL = c.TTL
	}
	if c.UpstreamTimeout <= 0 {
		c.UpstreamTimeout = DefaultUpstreamTimeout
	}
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
	if c.MaxCacheTTL <= 0 {
		c.MaxCacheTTL = DefaultMaxCacheTTL
	}
	return c
}
