package dns

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/liveness"
	mdns "github.com/miekg/dns"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

const (
	udpBatch        = 32   // datagrams per recvmmsg/sendmmsg
	udpReadSize     = 4096 // largest query we read
	maxForwardingUD = 1024 // forwarded UDP queries in flight per socket
)

// batchConn is what ipv4.PacketConn and ipv6.PacketConn share: recvmmsg and
// sendmmsg on Linux, one datagram per call elsewhere.
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// udpServer serves one UDP socket. It reads queries in batches, answers
// authoritative ones inline (from packed replies when it has seen the
// question before), hands the ones that need an upstream to goroutines, and
// writes the replies of a batch in one call. miekg/dns parses and packs
// every message; only the 16-bit ID of a packed reply is set in place.
type udpServer struct {
	s     *Server
	conn  *net.UDPConn
	bc    batchConn
	slots chan struct{}  // bounds forwarded queries in flight
	wg    sync.WaitGroup // forwarded queries in flight
	beat  *liveness.Beat // the reader's; forwarded queries count as its work
}

func newUDPServer(s *Server, conn *net.UDPConn) *udpServer {
	u := &udpServer{s: s, conn: conn, slots: make(chan struct{}, maxForwardingUD)}
	if conn.LocalAddr().(*net.UDPAddr).IP.To4() != nil {
		u.bc = ipv4.NewPacketConn(conn)
	} else {
		u.bc = ipv6.NewPacketConn(conn)
	}
	return u
}

// serve runs until the socket is closed; then it waits for forwarded
// queries in flight (ctx cancels them) and returns nil. A read deadline
// wakes it every beat.Every() when no query comes, so an idle reader beats
// too; one stuck answering does not.
func (u *udpServer) serve(ctx context.Context) error {
	defer u.wg.Wait()
	in := make([]ipv4.Message, udpBatch)
	for i := range in {
		in[i].Buffers = [][]byte{make([]byte, udpReadSize)}
	}
	out := make([]ipv4.Message, 0, udpBatch)
	replies := make([][]byte, udpBatch)
	outBufs := make([][1][]byte, udpBatch)
	every := u.beat.Every()
	var deadline time.Time
	for {
		if time.Until(deadline) < every/2 {
			deadline = time.Now().Add(every)
			_ = u.conn.SetReadDeadline(deadline)
		}
		n, err := u.bc.ReadBatch(in, 0)
		u.beat.Beat()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			u.s.plog.Warn("dns: udp read", "addr", u.conn.LocalAddr().String(), "err", err)
			continue // e.g. ICMP errors surfacing on the socket
		}
		out = out[:0]
		for i := range n {
			addr, ok := in[i].Addr.(*net.UDPAddr)
			if !ok {
				continue
			}
			r := u.handle(ctx, in[i].Buffers[0][:in[i].N], addr, replies[i][:0])
			if r == nil {
				continue
			}
			replies[i] = r
			outBufs[i][0] = r
			out = append(out, ipv4.Message{Buffers: outBufs[i][:], Addr: addr})
		}
		for len(out) > 0 {
			k, err := u.bc.WriteBatch(out, 0)
			if err != nil {
				u.s.log.Debug("dns: udp write", "err", err)
				k = max(k, 1) // skip the datagram that failed
			}
			out = out[k:]
		}
	}
}

// handle answers one datagram into dst; nil means no reply now (dropped, or
// being forwarded).
func (u *udpServer) handle(ctx context.Context, wire []byte, addr *net.UDPAddr, dst []byte) []byte {
	req := new(mdns.Msg)
	if err := req.Unpack(wire); err != nil || req.Response {
		return nil // like miekg/dns's server: unparseable input gets no reply
	}
	client := addr.AddrPort().Addr().Unmap()
	st := u.s.state.Load()
	key, cacheable := keyOf(req)
	key.ra = st.fwd != nil && st.recursionAllowed(client)
	var cache *answerCache
	if cacheable {
		cache = st.answers.cache()
		if p, ok := cache.get(key); ok {
			dst = append(dst, p.wire...)
			binary.BigEndian.PutUint16(dst, req.Id)
			u.s.metrics.query(key.qtype, p.rcode)
			return dst
		}
	}
	if st.forwards(req, client) {
		u.forward(ctx, st, req, client, addr)
		return nil
	}
	resp := u.s.respondWith(ctx, st, req, client, true)
	out, err := resp.PackBuffer(dst)
	if err != nil {
		u.s.plog.Warn("dns: pack reply", "name", req.Question[0].Name, "err", err)
		return nil
	}
	if cacheable && resp.Authoritative {
		cache.put(key, &packed{wire: append([]byte(nil), out...), rcode: resp.Rcode})
	}
	if len(req.Question) == 1 {
		u.s.metrics.query(req.Question[0].Qtype, resp.Rcode)
	}
	return out
}

// forward answers req in its own goroutine; when too many are in flight it
// answers SERVFAIL at once instead.
func (u *udpServer) forward(ctx context.Context, st *state, req *mdns.Msg, client netip.Addr, addr *net.UDPAddr) {
	reply := func(resp *mdns.Msg) {
		wire, err := resp.Pack()
		if err == nil {
			_, err = u.conn.WriteToUDP(wire, addr)
		}
		if err != nil {
			u.s.log.Debug("dns: udp reply", "client", client.String(), "err", err)
		}
		u.s.metrics.query(req.Question[0].Qtype, resp.Rcode)
	}
	select {
	case u.slots <- struct{}{}:
	default:
		resp := new(mdns.Msg)
		resp.SetRcode(req, mdns.RcodeServerFailure)
		reply(resp)
		return
	}
	u.wg.Add(1)
	end := u.beat.Begin()
	go func() {
		defer u.wg.Done()
		defer end()
		defer func() { <-u.slots }()
		reply(u.s.respondWith(ctx, st, req, client, true))
	}()
}
