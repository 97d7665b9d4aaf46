package labsim

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/bmc"
	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
	"github.com/pin/tftp/v3"
)

// NetNode is a simulated node that boots over the network for real: when its simulated BMC
// powers it on with network boot, it asks the appliance's DHCP server for an address and a
// boot file (as a relay agent, by unicast, so it needs no root), fetches the iPXE binary over
// TFTP, asks DHCP again as iPXE, fetches its per-MAC iPXE script and the kernel, initrds and
// rootfs the script names over HTTP, and only then tells the installer simulator that the
// discovery image booted. A disk boot (the script says so, or the BMC's boot device is the
// disk) resumes the installed system. Booted from its virtual CD it reads the ISO the BMC
// attached with Range requests, as a BMC's virtual media does (see cdboot.go); booted by UEFI
// HTTP boot it fetches the boot URI and goes on as iPXE does (see httpboot.go). Once an
// operating system runs (the discovery image or the installed one) it asks DHCP on each of its
// other NICs too, as a real node's NetworkManager does. Like Power it is a bmc.Driver and a
// flow Power.
type NetNode struct {
	Power // the simulator side: power state, boot device, faults, counts, the installer hooks

	BootMAC    net.HardwareAddr
	WantIP     netip.Addr     // the reservation the node must get
	DHCPServer netip.AddrPort // the appliance's DHCP server
	Relay      netip.Addr     // giaddr: a loopback address inside the boot network
	// OtherNICs are the node's NICs besides the boot one, each asking DHCP through a relay
	// address of its own network once the node's operating system runs.
	OtherNICs []NIC
	TFTPPort  int
	// HTTPFrom, when set, is the address the node's HTTP connections leave from: its own (on
	// loopback, any 127/8 address is), so the boot server tells nodes apart as in a real lab,
	// where its per-client limits count each node on its own. Unset: the system picks.
	HTTPFrom netip.Addr
	Log      *slog.Logger

	clientOnce sync.Once
	client     *http.Client
}

// NIC is one of a node's interfaces that asks DHCP once the operating system runs.
type NIC struct {
	MAC    net.HardwareAddr
	WantIP netip.Addr // the reservation it must get
	Relay  netip.Addr // giaddr: a loopback address inside the NIC's network
}

// httpClient is the node's HTTP client: its connections leave from HTTPFrom.
func (n *NetNode) httpClient() *http.Client {
	n.clientOnce.Do(func() {
		n.client = http.DefaultClient
		if n.HTTPFrom.IsValid() {
			d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: n.HTTPFrom.AsSlice()}, Timeout: 30 * time.Second}
			n.client = &http.Client{Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 2, IdleConnTimeout: 30 * time.Second}}
		}
	})
	return n.client
}

// PowerOn boots the node if it is off.
func (n *NetNode) PowerOn(ctx context.Context) error { return n.Power.powerOn(ctx, n.start) }

// PowerCycle (re)boots the node.
func (n *NetNode) PowerCycle(ctx context.Context) error { return n.Power.powerCycle(ctx, n.start) }

// Boots is how many times the node booted the discovery image over the network.
func (n *NetNode) Boots() int { return n.Counts().DiscoveryBoots }

func (n *NetNode) start(ctx context.Context) error {
	var boot func(ctx context.Context) error
	switch device, media, uri := n.Power.next(); {
	case device == bmc.BootPXE:
		boot = n.netboot
	case device == bmc.BootHTTP && uri != "":
		boot = func(ctx context.Context) error { return n.httpBoot(ctx, uri) }
	case device == bmc.BootCD && media != "":
		boot = func(ctx context.Context) error { return n.cdBoot(ctx, media) }
	default:
		return n.Power.start(ctx)
	}
	if n.Power.hangs() {
		return nil
	}
	n.Power.mu.Lock()
	n.Power.on, n.Power.forcedOff = true, false
	n.Power.mu.Unlock()
	// The BMC answers at once; the node boots in the background, as a real one does.
	go func() {
		bctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := boot(bctx); err != nil {
			n.count(func(c *Counts) { c.FailedBoots++ })
			n.Log.Error("labsim: boot failed", "node", n.Hostname, "err", err)
		}
	}()
	return nil
}

// netboot is the firmware's and iPXE's part of a network boot.
func (n *NetNode) netboot(ctx context.Context) error {
	ack, err := n.dhcp(ctx, dhcpv4.WithOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00000:UNDI:002001")),
		dhcpv4.WithOption(dhcpv4.OptClientArch(iana.INTEL_X86PC)))
	if err != nil {
		return err
	}
	file, server := ack.BootFileNameOption(), ack.ServerIPAddr
	if file == "" {
		file = ack.BootFileName
	}
	if file == "" || server == nil || server.IsUnspecified() {
		return fmt.Errorf("DHCP gave no boot file (file %q, next server %v)", file, server)
	}
	if err := n.tftpGet(server, file); err != nil {
		return err
	}
	// iPXE now runs and asks again, saying who it is.
	ack, err = n.dhcp(ctx, dhcpv4.WithOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00000:UNDI:002001")),
		dhcpv4.WithOption(dhcpv4.OptClientArch(iana.INTEL_X86PC)), dhcpv4.WithUserClass("iPXE", false))
	if err != nil {
		return err
	}
	script := ack.BootFileNameOption()
	if script == "" {
		script = ack.BootFileName
	}
	return n.runScript(ctx, script)
}

// runScript is iPXE running the per-MAC boot script at url: it boots the discovery kernel
// the script names, or the disk, or asks again while the appliance says to wait.
func (n *NetNode) runScript(ctx context.Context, script string) error {
	for range 60 {
		text, err := n.httpGet(ctx, script)
		if err != nil {
			return err
		}
		switch {
		case strings.Contains(text, "\nkernel "):
			if err := n.fetchArtifacts(ctx, text); err != nil {
				return err
			}
			if err := n.osDHCP(ctx); err != nil {
				return err
			}
			if err := n.Power.postBoot(ctx); err != nil {
				return err
			}
			n.count(func(c *Counts) { c.DiscoveryBoots++ })
			return nil
		case strings.Contains(text, "sanboot") || strings.Contains(text, "\nexit"):
			if err := n.Power.diskBooted(ctx); err != nil {
				return err
			}
			return n.osDHCP(ctx)
		default: // the appliance asks the node to wait (boot cache not filled yet)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second):
			}
		}
	}
	return errors.New("the boot script never offered a kernel or the disk")
}

// osDHCP is the booted operating system asking DHCP on every NIC but the boot one.
func (n *NetNode) osDHCP(ctx context.Context) error {
	for _, nic := range n.OtherNICs {
		if _, err := n.dhcpOn(ctx, nic); err != nil {
			return fmt.Errorf("NIC %s: %w", nic.MAC, err)
		}
	}
	return nil
}

// dhcp runs DISCOVER/OFFER/REQUEST/ACK on the boot NIC.
func (n *NetNode) dhcp(ctx context.Context, mods ...dhcpv4.Modifier) (*dhcpv4.DHCPv4, error) {
	return n.dhcpOn(ctx, NIC{MAC: n.BootMAC, WantIP: n.WantIP, Relay: n.Relay}, mods...)
}

// dhcpOn runs DISCOVER/OFFER/REQUEST/ACK for nic through its relay address and checks the
// address.
func (n *NetNode) dhcpOn(ctx context.Context, nic NIC, mods ...dhcpv4.Modifier) (*dhcpv4.DHCPv4, error) {
	conn, err := n.relaySocket(ctx, nic.Relay)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	relay := []dhcpv4.Modifier{dhcpv4.WithRelay(nic.Relay.AsSlice())}
	discover, err := dhcpv4.NewDiscovery(nic.MAC, append(mods, relay...)...)
	if err != nil {
		return nil, err
	}
	offer, err := n.exchange(ctx, conn, discover, dhcpv4.MessageTypeOffer)
	if err != nil {
		return nil, fmt.Errorf("DHCP discover: %w", err)
	}
	request, err := dhcpv4.NewRequestFromOffer(offer, append(mods, relay...)...)
	if err != nil {
		return nil, err
	}
	ack, err := n.exchange(ctx, conn, request, dhcpv4.MessageTypeAck)
	if err != nil {
		return nil, fmt.Errorf("DHCP request: %w", err)
	}
	if got, ok := netip.AddrFromSlice(ack.YourIPAddr.To4()); !ok || got != nic.WantIP {
		return nil, fmt.Errorf("DHCP gave %v, want the reservation %s", ack.YourIPAddr, nic.WantIP)
	}
	return ack, nil
}

// relaySocket listens where the server answers relays: the relay address at the server port
// (the server itself holds 0.0.0.0 on that port, hence SO_REUSEADDR/SO_REUSEPORT).
func (n *NetNode) relaySocket(ctx context.Context, relay netip.Addr) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			if serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); serr == nil {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, 0xf /* SO_REUSEPORT */, 1)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(ctx, "udp4", netip.AddrPortFrom(relay, n.DHCPServer.Port()).String())
	if err != nil {
		return nil, fmt.Errorf("relay socket: %w", err)
	}
	return pc.(*net.UDPConn), nil
}

func (n *NetNode) exchange(ctx context.Context, conn *net.UDPConn, msg *dhcpv4.DHCPv4, want dhcpv4.MessageType) (*dhcpv4.DHCPv4, error) {
	dst := net.UDPAddrFromAddrPort(n.DHCPServer)
	buf := make([]byte, 1500)
	for range 5 {
		if _, err := conn.WriteToUDP(msg.ToBytes(), dst); err != nil {
			return nil, err
		}
		deadline := time.Now().Add(2 * time.Second)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		_ = conn.SetReadDeadline(deadline)
		for {
			k, _, err := conn.ReadFromUDP(buf)
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				break // resend
			}
			reply, err := dhcpv4.FromBytes(buf[:k])
			if err != nil || reply.TransactionID != msg.TransactionID {
				continue
			}
			if reply.MessageType() != want {
				return nil, fmt.Errorf("got %s, want %s", reply.MessageType(), want)
			}
			return reply, nil
		}
	}
	return nil, fmt.Errorf("no %s from %s", want, n.DHCPServer)
}

func (n *NetNode) tftpGet(server net.IP, file string) error {
	c, err := tftp.NewClient(net.JoinHostPort(server.String(), fmt.Sprint(n.TFTPPort)))
	if err != nil {
		return err
	}
	c.SetTimeout(2 * time.Second)
	c.SetBlockSize(1428)
	wt, err := c.Receive(file, "octet")
	if err != nil {
		return fmt.Errorf("TFTP %s: %w", file, err)
	}
	if _, err := wt.WriteTo(io.Discard); err != nil {
		return fmt.Errorf("TFTP %s: %w", file, err)
	}
	return nil
}

func (n *NetNode) httpGet(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := n.httpClient().Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	var b strings.Builder
	if _, err := io.Copy(&b, io.LimitReader(resp.Body, 1<<20)); err != nil {
		return "", err
	}
	return b.String(), nil
}

// fetchArtifacts downloads what the discovery script boots: the kernel and initrds it names,
// and the rootfs the kernel's command line points to.
func (n *NetNode) fetchArtifacts(ctx context.Context, script string) error {
	sc := bufio.NewScanner(strings.NewReader(script))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || (fields[0] != "kernel" && fields[0] != "initrd") {
			continue
		}
		for _, f := range fields[1:] {
			url := f
			if _, v, ok := strings.Cut(f, "coreos.live.rootfs_url="); ok {
				url = v
			}
			if !strings.HasPrefix(url, "http://") {
				continue
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return err
			}
			resp, err := n.httpClient().Do(req)
			if err != nil {
				return err
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				return fmt.Errorf("GET %s: %s %v", url, resp.Status, err)
			}
		}
	}
	return sc.Err()
}
