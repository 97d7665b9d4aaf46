package dhcp

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/liveness"
	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"
	"golang.org/x/net/ipv4"
)

// socketBuffer is the receive and send buffer asked for each socket.
const socketBuffer = 4 << 20

// socket is the UDP socket of one interface: bound to 0.0.0.0:port with
// SO_BINDTODEVICE (server4.NewIPv4UDPConn), so it receives the interface's
// broadcasts and its broadcasts leave through that interface even in a
// namespace without a default route.
type socket struct {
	iface    string
	conn     *net.UDPConn
	done     chan struct{} // closed when the reader returned
	stopping atomic.Bool   // set by unblock: the reader's next wake-up ends it
}

// openSockets opens a socket for each interface of c that is not in have.
func (s *Server) openSockets(c *compiled, have map[string]*socket) (map[string]*socket, error) {
	out := map[string]*socket{}
	for _, iface := range c.interfaces {
		if have[iface] != nil {
			continue
		}
		conn, err := server4.NewIPv4UDPConn(iface, &net.UDPAddr{IP: net.IPv4zero, Port: c.cfg.Port})
		if err != nil {
			closeSockets(out)
			return nil, fmt.Errorf("bind 0.0.0.0:%d on %s (network %s): %w", c.cfg.Port, iface, c.byIface[iface].Name, err)
		}
		// Bursts (a rack powering on, perfdhcp) must wait in the kernel, not be dropped there,
		// while a lease commit is being fsync'd. The kernel caps this at net.core.rmem_max.
		_ = conn.SetReadBuffer(socketBuffer)
		_ = conn.SetWriteBuffer(socketBuffer)
		out[iface] = &socket{iface: iface, conn: conn, done: make(chan struct{})}
	}
	return out, nil
}

func closeSockets(m map[string]*socket) {
	for _, sk := range m {
		sk.conn.Close()
	}
}

// unblock makes the reader's pending read return and the reader end.
func (sk *socket) unblock() {
	sk.stopping.Store(true)
	_ = sk.conn.SetReadDeadline(time.Unix(1, 0))
}

// stop ends the reader and closes the socket.
func (sk *socket) stop() {
	sk.unblock()
	<-sk.done
	sk.conn.Close()
}

// startReader starts sk's read loop; called with runMu held while running.
func (s *Server) startReader(sk *socket) {
	beat := s.live.Register("dhcp read "+sk.iface, 0)
	s.readers.Go(func() {
		defer close(sk.done)
		defer beat.Done()
		if err := s.read(sk, beat); err != nil {
			s.log.Error("dhcp: socket failed", "interface", sk.iface, "err", err)
			s.fail(err)
		}
	})
}

// readBatch is how many packets one read takes from the kernel (recvmmsg)
// when several are waiting, as under a burst.
const readBatch = 32

// read handles packets from sk until unblock (a stop); other read errors end
// the server. A read deadline wakes it up every beat.Every() when no packet
// comes, so an idle reader beats too; one stuck handling a packet does not.
func (s *Server) read(sk *socket, beat *liveness.Beat) error {
	pc := ipv4.NewPacketConn(sk.conn)
	msgs := make([]ipv4.Message, readBatch)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, 4096)}
	}
	every := beat.Every()
	var deadline time.Time
	for {
		if time.Until(deadline) < every/2 {
			deadline = time.Now().Add(every)
			_ = sk.conn.SetReadDeadline(deadline)
		}
		// After setting the deadline: unblock's past one may have been overwritten.
		if sk.stopping.Load() {
			return nil
		}
		n, err := pc.ReadBatch(msgs, 0)
		beat.Beat()
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue // a wake-up, or unblock (seen above)
			}
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("dhcp: read on %s: %w", sk.iface, err)
		}
		var now []*job // answers that wait for no commit
		for _, m := range msgs[:n] {
			req, err := dhcpv4.FromBytes(m.Buffers[0][:m.N])
			if err != nil {
				s.m.dropped("none", dropMalformed)
				continue
			}
			if j, queued := s.handle(sk.iface, req); j != nil && !queued && j.reply != nil {
				now = append(now, j)
			}
		}
		for _, j := range now[s.out.push(now, true):] {
			s.m.dropped(j.reply.network, dropQueueFull)
		}
	}
}

// sendReply sends r and counts it.
func (s *Server) sendReply(r *reply) { s.sendReplies([]*reply{r}) }

// sendReplies sends rs (in batches where the socket allows) and counts them;
// a failed send is logged (the client will retry).
func (s *Server) sendReplies(rs []*reply) {
	if len(rs) == 0 {
		return
	}
	for i, err := range s.sendFn(rs) {
		r := rs[i]
		if err != nil {
			s.plog.Warn("dhcp: send failed", "network", r.network, "mac", r.msg.ClientHWAddr.String(),
				"type", r.msg.MessageType().String(), "dst", r.dst.String(), "err", err)
			continue
		}
		s.m.sent(r.network, r.msg.MessageType())
		s.markSent(r)
	}
}

// sendOnSockets writes each reply through the socket of the interface it came
// in on, consecutive replies on one socket in one sendmmsg.
func (s *Server) sendOnSockets(rs []*reply) []error {
	errs := make([]error, len(rs))
	for start := 0; start < len(rs); {
		end := start + 1
		for end < len(rs) && rs[end].iface == rs[start].iface {
			end++
		}
		s.sendBatch(rs[start:end], errs[start:end])
		start = end
	}
	return errs
}

// sendBatch sends replies that all leave through one interface.
func (s *Server) sendBatch(rs []*reply, errs []error) {
	s.sockMu.RLock()
	sk := s.socks[rs[0].iface]
	s.sockMu.RUnlock()
	if sk == nil {
		for i, r := range rs {
			errs[i] = fmt.Errorf("dhcp: %s to %s on %s: no socket on %s", r.msg.MessageType(), r.msg.ClientHWAddr, r.network, r.iface)
		}
		return
	}
	msgs := make([]ipv4.Message, len(rs))
	for i, r := range rs {
		msgs[i] = ipv4.Message{Buffers: [][]byte{r.msg.ToBytes()}, Addr: r.dst}
	}
	pc := ipv4.NewPacketConn(sk.conn)
	for done := 0; done < len(msgs); {
		n, err := pc.WriteBatch(msgs[done:], 0)
		if err != nil && n <= 0 { // the first message of the batch failed: skip it, send the rest
			r := rs[done]
			errs[done] = fmt.Errorf("dhcp: %s to %s on %s: %w", r.msg.MessageType(), r.msg.ClientHWAddr, r.network, err)
			n = 1
		}
		done += n
	}
}
