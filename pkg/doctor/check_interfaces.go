package doctor

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/config"
)

// interfacesCheck: each lab network's interface exists, is up with a carrier, holds the lab's
// address with the network's prefix length, has the lab's MTU when one is set, and no other
// host on the fabric answers ARP for the appliance's address. On loopback (the rehearsal)
// there is no interface per network: the check only says so.
var interfacesCheck = Check{
	Name:    "interfaces",
	Needs:   "the lab's interfaces on the jump host; raw ARP socket (root or CAP_NET_RAW)",
	Timeout: 5 * time.Second,
	Run:     checkInterfaces,
}

func checkInterfaces(ctx context.Context, env *Env) []Result {
	if env.Loopback {
		return []Result{skipped("all networks", "loopback rehearsal: the lab networks live on lo, no interface holds their addresses")}
	}
	var out []Result
	for _, n := range env.Lab.Networks {
		out = append(out, checkInterface(ctx, n)...)
	}
	return out
}

func checkInterface(ctx context.Context, n config.Network) []Result {
	target := netTarget(n)
	ifi, err := net.InterfaceByName(n.Interface)
	if err != nil {
		return []Result{failure(target, fmt.Sprintf("set networks[%s].interface to the jump host's interface on this fabric (one of: %s)", n.Name, interfaceNames()),
			"interface %s does not exist", n.Interface)}
	}
	var out []Result
	if ifi.Flags&net.FlagUp == 0 {
		out = append(out, failure(target, "ip link set "+n.Interface+" up (and make it so in the host's network configuration)", "interface %s is down", n.Interface))
	} else if ifi.Flags&net.FlagRunning == 0 {
		out = append(out, failure(target, "check the cable or the bridge/switch port of "+n.Interface, "interface %s is up but has no carrier", n.Interface))
	}
	want := netip.PrefixFrom(n.Address, n.CIDR.Bits())
	held, other := holds(ifi, n.Address)
	switch {
	case !held:
		out = append(out, failure(target, fmt.Sprintf("ip addr add %s dev %s (and make it persistent), or change networks[%s].address", want, n.Interface, n.Name),
			"interface %s does not hold the lab's address %s", n.Interface, n.Address))
	case other.IsValid() && other.Bits() != want.Bits():
		out = append(out, warning(target, fmt.Sprintf("give %s the prefix length of %s", n.Interface, n.CIDR),
			"interface %s holds %s, but the network is %s", n.Interface, other, n.CIDR))
	}
	if n.MTU != 0 && ifi.MTU != n.MTU {
		out = append(out, failure(target, fmt.Sprintf("ip link set %s mtu %d (and in the host's network configuration), or set networks[%s].mtu to %d: the nodes are handed the lab's MTU by DHCP", n.Interface, n.MTU, n.Name, ifi.MTU),
			"interface %s has MTU %d, the lab says %d", n.Interface, ifi.MTU, n.MTU))
	}
	if held {
		answers, err := arpProbe(ctx, n.Interface, []netip.Addr{n.Address})
		switch {
		case err != nil:
			out = append(out, failure(target, "run the doctor as root (it needs a raw socket)", "cannot probe for a duplicate of %s: %v", n.Address, err))
		case len(answers[n.Address]) > 0:
			out = append(out, failure(target, "find the host with that MAC (switch MAC table, its ip addr) and remove the address from it, or give the appliance another networks["+n.Name+"].address",
				"%s, the appliance's own address, is also held by %s on this fabric (ARP probe)", n.Address, macList(answers[n.Address])))
		}
	}
	if len(out) == 0 {
		mtu := ""
		if n.MTU != 0 {
			mtu = fmt.Sprintf(", MTU %d", ifi.MTU)
		}
		out = append(out, ok(target, "up, holds %s%s, no duplicate on the fabric", want, mtu))
	}
	return out
}

// holds says whether ifi has addr, and with which prefix.
func holds(ifi *net.Interface, addr netip.Addr) (bool, netip.Prefix) {
	addrs, err := ifi.Addrs()
	if err != nil {
		return false, netip.Prefix{}
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Unmap() == addr {
			return true, p
		}
	}
	return false, netip.Prefix{}
}

func interfaceNames() string {
	ifs, err := net.Interfaces()
	if err != nil {
		return "?"
	}
	var names []string
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback == 0 {
			names = append(names, i.Name)
		}
	}
	return strings.Join(names, ", ")
}
