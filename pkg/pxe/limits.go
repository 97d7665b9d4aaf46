package pxe

import (
	"io"
	"net"
	"net/netip"
	"sync"

	"golang.org/x/sys/unix"
)

// Descriptor budget. Every HTTP connection holds a descriptor; without a cap, idle keep-alive
// connections from a hostile or broken client take them all, and DHCP, DNS (TCP) and TFTP
// (one socket per transfer) stop too. ReservedFDs descriptors are kept out of every HTTP
// budget for them, the store, the BMC and installer clients; HTTP connections share the
// rest: the boot server at most half of it, the status server at most an eighth.
const (
	ReservedFDs = 1024
	// DefaultHTTPMaxConns bounds the boot server's connections however high the descriptor
	// limit is: about 21 KiB of memory each, so 4096 hold under 100 MiB.
	DefaultHTTPMaxConns = 4096
	// DefaultHTTPMaxConnsPerClient is far above what one netbooting machine opens (iPXE uses
	// one connection at a time; UEFI HTTP boot a few).
	DefaultHTTPMaxConnsPerClient = 32
	// minHTTPBudget is what HTTP gets when the descriptor limit leaves less after the reserve.
	minHTTPBudget = 128
)

// FDLimit is the process's soft RLIMIT_NOFILE (the Go runtime raises it to the hard limit at
// start); 0 if it cannot be read.
func FDLimit() uint64 {
	var r unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &r); err != nil {
		return 0
	}
	return r.Cur
}

// HTTPBudget is how many descriptors HTTP connections may hold at most, given a descriptor
// limit: the limit less ReservedFDs, and never less than 128.
func HTTPBudget(fdLimit uint64) int {
	if fdLimit <= ReservedFDs+minHTTPBudget {
		return minHTTPBudget
	}
	return int(min(fdLimit-ReservedFDs, 1<<20))
}

// DefaultMaxConns is the boot server's total cap for a descriptor limit: half the HTTP
// budget, at most DefaultHTTPMaxConns.
func DefaultMaxConns(fdLimit uint64) int {
	return min(DefaultHTTPMaxConns, HTTPBudget(fdLimit)/2)
}

// Refusal reasons, as counted in cn2_appliance_http_connections_refused_total.
const (
	refusedACL       = "acl"
	refusedTotal     = "total_cap"
	refusedPerClient = "client_cap"
)

// ConnLimits are the limits a ConnLimiter applies; read on every accepted connection, so a
// reload applies to the next one.
type ConnLimits struct {
	Max          int // connections in total; <= 0: no cap
	MaxPerClient int // connections per client address; <= 0: no cap
	// Allowed says whether a client address may connect at all; nil: every address.
	Allowed func(netip.Addr) bool
}

// ConnLimiter caps the connections of one server across all its listeners, in total and per
// client address. A connection over a cap, or from an address that is not allowed, is
// accepted and closed at once with a reset (the client sees "connection reset"), so it
// holds its descriptor for no longer than that.
type ConnLimiter struct {
	limits  func() ConnLimits
	refused func(reason string) // counts a refusal; may be nil
	open    func(delta int)     // follows the number of open connections; may be nil

	mu       sync.Mutex
	total    int
	byClient map[netip.Addr]int
}

// NewConnLimiter returns a limiter that asks limits for its caps on each connection.
// refused and open, if not nil, are told about refusals and the count of open connections.
func NewConnLimiter(limits func() ConnLimits, refused func(reason string), open func(delta int)) *ConnLimiter {
	return &ConnLimiter{limits: limits, refused: refused, open: open, byClient: map[netip.Addr]int{}}
}

// Listener wraps ln: its Accept returns only connections within the limits.
func (cl *ConnLimiter) Listener(ln net.Listener) net.Listener {
	return &limitedListener{Listener: ln, cl: cl}
}

// Open is the number of connections open now.
func (cl *ConnLimiter) Open() int {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.total
}

// admit counts a connection from a, or says why it is refused.
func (cl *ConnLimiter) admit(a netip.Addr) (reason string, ok bool) {
	lim := cl.limits()
	if lim.Allowed != nil && !lim.Allowed(a) {
		return refusedACL, false
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if lim.Max > 0 && cl.total >= lim.Max {
		return refusedTotal, false
	}
	if lim.MaxPerClient > 0 && cl.byClient[a] >= lim.MaxPerClient {
		return refusedPerClient, false
	}
	cl.total++
	cl.byClient[a]++
	return "", true
}

func (cl *ConnLimiter) release(a netip.Addr) {
	cl.mu.Lock()
	cl.total--
	if cl.byClient[a]--; cl.byClient[a] <= 0 {
		delete(cl.byClient, a)
	}
	cl.mu.Unlock()
	if cl.open != nil {
		cl.open(-1)
	}
}

type limitedListener struct {
	net.Listener
	cl *ConnLimiter
}

func (l *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		a := clientAddr(c)
		reason, ok := l.cl.admit(a)
		if ok {
			if l.cl.open != nil {
				l.cl.open(1)
			}
			return &limitedConn{Conn: c, cl: l.cl, addr: a}, nil
		}
		if tc, isTCP := c.(*net.TCPConn); isTCP {
			_ = tc.SetLinger(0) // a reset: nothing lingers in TIME_WAIT or FIN_WAIT
		}
		c.Close()
		if l.cl.refused != nil {
			l.cl.refused(reason)
		}
	}
}

func clientAddr(c net.Conn) netip.Addr {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// limitedConn gives its slot back once, when it is closed.
type limitedConn struct {
	net.Conn
	cl   *ConnLimiter
	addr netip.Addr
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.cl.release(c.addr) })
	return err
}

// ReadFrom keeps the connection's own ReadFrom (sendfile) reachable by net/http.
func (c *limitedConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}
