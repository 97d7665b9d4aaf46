package rehearsal

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/cn2-appliance/cn2-appliance/internal/freeport"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
)

// onLoopback returns a copy of lab moved onto loopback: network i becomes 127.<i+1>.x.y with
// the same last two octets (so 172.16.0.11 on the first network is 127.1.0.11), every
// address in the lab follows its network, listeners (NTP's too) get free high ports, DNS
// forwards nowhere, and TFTP serves stand-ins for the iPXE binaries (the simulated nodes only fetch
// them).
func onLoopback(orig *config.Lab, o Options) (*config.Lab, error) {
	lab := *orig
	lab.Networks = append([]config.Network(nil), orig.Networks...)
	lab.Nodes = nil
	move := map[netip.Prefix]netip.Prefix{}
	for i, n := range orig.Networks {
		if n.CIDR.Bits() < 16 {
			return nil, fmt.Errorf("rehearsal: network %s (%s) is wider than /16; it does not fit a loopback /16", n.Name, n.CIDR)
		}
		a := n.CIDR.Addr().As4()
		move[n.CIDR] = netip.PrefixFrom(netip.AddrFrom4([4]byte{127, byte(i + 1), a[2], a[3]}), n.CIDR.Bits())
	}
	addr := func(x netip.Addr) netip.Addr {
		for from, to := range move {
			if x.IsValid() && from.Contains(x) {
				a, t := x.As4(), to.Addr().As4()
				return netip.AddrFrom4([4]byte{t[0], t[1], a[2], a[3]})
			}
		}
		return x
	}
	for i := range lab.Networks {
		n := &lab.Networks[i]
		n.CIDR = move[n.CIDR]
		n.Address, n.Gateway = addr(n.Address), addr(n.Gateway)
		if n.Pool.IsSet() {
			n.Pool = config.Range{First: addr(n.Pool.First), Last: addr(n.Pool.Last)}
		}
		// The DHCP server listens on lo for the first network; the others are reached
		// through the relays' giaddr alone.
		n.Interface = ""
		if i == 0 {
			n.Interface = "lo"
		}
	}
	lab.Cluster.MachineNetwork = move[orig.Cluster.MachineNetwork]
	lab.Cluster.APIVIP, lab.Cluster.IngressVIP = addr(orig.Cluster.APIVIP), addr(orig.Cluster.IngressVIP)
	for _, n := range orig.Nodes {
		n.NICs = append([]config.NIC(nil), n.NICs...)
		for j := range n.NICs {
			n.NICs[j].IP = addr(n.NICs[j].IP)
		}
		lab.Nodes = append(lab.Nodes, n)
	}
	// NTP servers outside the lab are dropped: nothing on loopback answers for them.
	onLoopbackOnly := func(list []netip.Addr) []netip.Addr {
		var out []netip.Addr
		for _, s := range list {
			if moved := addr(s); moved != s {
				out = append(out, moved)
			}
		}
		return out
	}
	lab.DHCP.NTPServers = onLoopbackOnly(orig.DHCP.NTPServers)
	for i := range lab.Networks {
		lab.Networks[i].NTPServers = onLoopbackOnly(orig.Networks[i].NTPServers)
	}
	lab.DNS.Forwarders = nil

	ports, err := freeport.Ports(6)
	if err != nil {
		return nil, err
	}
	lab.DNS.Port, lab.DHCP.Port, lab.Boot.TFTPPort, lab.Boot.HTTPPort = ports[0], ports[1], ports[2], ports[3]
	lab.Status.Listen = config.Endpoint{Addr: netip.MustParseAddr("127.0.0.1"), Port: uint16(ports[4])}
	lab.NTP.Port = ports[5]
	if o.StatusListen != "" {
		if err := lab.Status.Listen.UnmarshalText([]byte(o.StatusListen)); err != nil {
			return nil, fmt.Errorf("rehearsal: status address: %w", err)
		}
	}

	root := filepath.Join(o.StateDir, "ipxe-stand-ins")
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, err
	}
	for _, f := range []string{"undionly.kpxe", "ipxe.efi", "snponly.efi"} {
		content := []byte(strings.Repeat("rehearsal stand-in for "+f+"\n", 200))
		if err := os.WriteFile(filepath.Join(root, f), content, 0o600); err != nil {
			return nil, err
		}
	}
	lab.Boot.TFTPRoot = root
	return &lab, nil
}

// describeNetworks says where each lab network went.
func describeNetworks(lab *config.Lab) string {
	var parts []string
	for _, n := range lab.Networks {
		parts = append(parts, fmt.Sprintf("%s %s", n.Name, n.CIDR))
	}
	return strings.Join(parts, ", ")
}
