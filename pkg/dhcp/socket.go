package dhcp

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"
)

// socket is the UDP socket of one interface: bound to 0.0.0.0:port with
// SO_BINDTODEVICE (server4.NewIPv4UDPConn), so it receives the interface's
// broadcasts and its broadcasts leave through that interface even in a
// namespace without a default route.
type socket struct {
	iface string
	conn  *net.UDPConn
	done  chan struct{} // closed when the reader returned
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
		out[iface] = &socket{iface: iface, conn: conn, done: make(chan struct{})}
	}
	return out, nil
}

func closeSockets(m map[string]*socket) {
	for _, sk := range m {
		sk.conn.Close()
	}
}

// unblock makes the reader's pending read return.
func (sk *socket) unblock() { _ = sk.conn.SetReadDeadline(time.Unix(1, 0)) }

// stop ends the reader and closes the socket.
func (sk *socket) stop() {
	sk.unblock()
	<-sk.done
	sk.conn.Close()
}

// startReader starts sk's read loop; called with runMu held while running.
func (s *Server) startReader(sk *socket) {
	s.readers.Go(func() {
		defer close(sk.done)
		if err := s.read(sk); err != nil {
			s.log.Error("dhcp: socket failed", "interface", sk.iface, "err", err)
			s.fail(err)
		}
	})
}

// read handles packets from sk until the read deadline is forced into the
// past (a stop); other read errors end the server.
func (s *Server) read(sk *socket) error {
	buf := make([]byte, 65536)
	for {
		n, _, err := sk.conn.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("dhcp: read on %s: %w", sk.iface, err)
		}
		req, err := dhcpv4.FromBytes(buf[:n])
		if err != nil {
			s.m.dropped("none", dropMalformed)
			continue
		}
		if j, queued := s.handle(sk.iface, req); j != nil && !queued && j.reply != nil {
			s.sendReply(j.reply)
		}
	}
}

// sendReply sends r and counts it; a failed send is logged (the client will
// retry).
func (s *Server) sendReply(r *reply) {
	if err := s.sendFn(r); err != nil {
		s.log.Warn("dhcp: send failed", "network", r.network, "mac", r.msg.ClientHWAddr.String(),
			"type", r.msg.MessageType().String(), "dst", r.dst.String(), "err", err)
		return
	}
	s.m.sent(r.network, r.msg.MessageType())
}

// sendOnSocket writes r through the socket of the interface it came in on.
func (s *Server) sendOnSocket(r *reply) error {
	s.sockMu.RLock()
	sk := s.socks[r.iface]
	s.sockMu.RUnlock()
	if sk == nil {
		return fmt.Errorf("dhcp: %s to %s on %s: no socket on %s", r.msg.MessageType(), r.msg.ClientHWAddr, r.network, r.iface)
	}
	if _, err := sk.conn.WriteToUDP(r.msg.ToBytes(), r.dst); err != nil {
		return fmt.Errorf("dhcp: %s to %s on %s: %w", r.msg.MessageType(), r.msg.ClientHWAddr, r.network, err)
	}
	return nil
}
