package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
)

// arpWindow is how long a probe listens for answers; RFC 5227 waits longer (PROBE_WAIT and
// three probes over up to 3 s), but a host holding the address answers within milliseconds.
const arpWindow = 1500 * time.Millisecond

// arpRounds is how many probes go to each address, spread over the first half of the window.
const arpRounds = 3

// arpProbe sends RFC 5227 ARP probes (sender address 0.0.0.0, so no neighbour cache learns
// anything) for every target on the interface, and returns per target the MACs, other than
// the interface's own, that said they hold it: by a reply, or by a request or announcement
// sent from that address.
func arpProbe(ctx context.Context, ifname string, targets []netip.Addr) (map[netip.Addr][]net.HardwareAddr, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("ARP probe on %s: %w", ifname, err)
	}
	c, err := arp.Dial(ifi)
	if err != nil {
		return nil, fmt.Errorf("ARP probe on %s: %w", ifname, err)
	}
	defer c.Close()

	end := time.Now().Add(arpWindow)
	if d, ok := ctx.Deadline(); ok && d.Before(end) {
		end = d
	}
	if err := c.SetReadDeadline(end); err != nil {
		return nil, fmt.Errorf("ARP probe on %s: %w", ifname, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetReadDeadline(time.Now()) })
	defer stop()

	want := map[netip.Addr]bool{}
	for _, t := range targets {
		want[t] = true
	}
	answers := map[netip.Addr][]net.HardwareAddr{}
	read := make(chan error, 1)
	go func() {
		for {
			p, _, err := c.Read()
			if err != nil {
				read <- err
				return
			}
			if !want[p.SenderIP] || slices.Equal(p.SenderHardwareAddr, ifi.HardwareAddr) {
				continue
			}
			if !slices.ContainsFunc(answers[p.SenderIP], func(m net.HardwareAddr) bool { return slices.Equal(m, p.SenderHardwareAddr) }) {
				answers[p.SenderIP] = append(answers[p.SenderIP], slices.Clone(p.SenderHardwareAddr))
			}
		}
	}()

	unknown := net.HardwareAddr{0, 0, 0, 0, 0, 0}
	var sendErr error
	for round := range arpRounds {
		for _, t := range targets {
			p, err := arp.NewPacket(arp.OperationRequest, ifi.HardwareAddr, netip.IPv4Unspecified(), unknown, t)
			if err == nil {
				err = c.WriteTo(p, ethernet.Broadcast)
			}
			if err != nil && sendErr == nil {
				sendErr = fmt.Errorf("ARP probe for %s on %s: %w", t, ifname, err)
			}
		}
		if round < arpRounds-1 {
			select {
			case <-ctx.Done():
			case <-time.After(arpWindow / (2 * arpRounds)):
			}
		}
	}
	err = <-read // the read deadline ends the reader
	if sendErr != nil {
		return nil, sendErr
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return nil, fmt.Errorf("ARP probe on %s: %w", ifname, err)
	}
	return answers, ctx.Err()
}

func macList(macs []net.HardwareAddr) string {
	s := ""
	for i, m := range macs {
		if i > 0 {
			s += ", "
		}
		s += m.String()
	}
	return s
}
