package dhcp

import (
	"encoding/binary"
	"net"
	"sync/atomic"

	"github.com/cn2-appliance/cn2-appliance/internal/netnstest"
	"github.com/insomniacslk/dhcp/dhcpv4"
	"golang.org/x/sys/unix"
)

func setBroadcast(fd int) error { return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BROADCAST, 1) }

// ack is one DHCPACK seen on the wire.
type ack struct{ mac, ip string }

// captureACKs records every DHCPACK (to or from port 67 or 68) that passes interface
// eth0 of namespace ns until stop is closed, counting them in seen: a passive AF_PACKET
// socket, so the audit sees what the clients were told, not what the server says it did.
func captureACKs(ns string, started chan<- error, stop <-chan struct{}, seen *atomic.Int64) ([]ack, error) {
	var acks []ack
	err := netnstest.InNetns(ns, func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			started <- err
			return err
		}
		proto := int(htons(unix.ETH_P_IP))
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			started <- err
			return err
		}
		defer unix.Close(fd)
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: ifi.Index}); err != nil {
			started <- err
			return err
		}
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 8<<20)
		_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 100000})
		started <- nil
		buf := make([]byte, 65536)
		for {
			select {
			case <-stop:
				return nil
			default:
			}
			n, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				continue // the timeout, to look at stop again
			}
			if a, ok := parseACK(buf[:n]); ok {
				acks = append(acks, a)
				seen.Add(1)
			}
		}
	})
	return acks, err
}

// parseACK returns the client and address of an IPv4/UDP DHCPACK.
func parseACK(p []byte) (ack, bool) {
	if len(p) < 28 || p[0]>>4 != 4 || p[9] != unix.IPPROTO_UDP {
		return ack{}, false
	}
	udp := p[int(p[0]&0x0f)*4:]
	if len(udp) < 8 {
		return ack{}, false
	}
	if sp, dp := binary.BigEndian.Uint16(udp[0:]), binary.BigEndian.Uint16(udp[2:]); sp != 67 || (dp != 67 && dp != 68) {
		return ack{}, false
	}
	m, err := dhcpv4.FromBytes(udp[8:])
	if err != nil || m.MessageType() != dhcpv4.MessageTypeAck || m.YourIPAddr.IsUnspecified() {
		return ack{}, false
	}
	return ack{mac: m.ClientHWAddr.String(), ip: m.YourIPAddr.String()}, true
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
