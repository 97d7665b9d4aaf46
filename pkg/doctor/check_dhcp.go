package doctor

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
)

// rogueDHCPCheck sends one DHCPDISCOVER (broadcast flag set, the interface's own MAC) on each
// fabric and reports every server other than the appliance that offers an address. It never
// sends a REQUEST, so no server commits a lease. Skipped on loopback (DHCP there is relayed).
var rogueDHCPCheck = Check{
	Name:    "rogue-dhcp",
	Needs:   "raw packet socket on each lab interface (root or CAP_NET_RAW)",
	Timeout: 8 * time.Second,
	Run:     checkRogueDHCP,
}

// dhcpWait is how long the first DISCOVER waits for offers; a second one waits twice as long.
// Together they cover servers that ping an address before offering it (dnsmasq: 3 s).
const dhcpWait = 1500 * time.Millisecond

func checkRogueDHCP(ctx context.Context, env *Env) []Result {
	nets := fabrics(env)
	if len(nets) == 0 {
		return []Result{skipped("all networks", "loopback rehearsal: DHCP is relayed, there is no fabric to broadcast on")}
	}
	own := map[netip.Addr]bool{}
	for _, n := range env.Lab.Networks {
		own[n.Address] = true
	}
	results := make([][]Result, len(nets))
	var wg sync.WaitGroup
	for i, n := range nets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if why := unusable(n); why != "" {
				results[i] = []Result{failure(netTarget(n), fixInterfacesFirst, "cannot send a DHCPDISCOVER: %s", why)}
				return
			}
			results[i] = discover(ctx, n.Name, n.Interface, own)
		}()
	}
	wg.Wait()
	var out []Result
	for _, rs := range results {
		out = append(out, rs...)
	}
	return out
}

type offer struct {
	server, offered, router string
}

func discover(ctx context.Context, network, ifname string, own map[netip.Addr]bool) []Result {
	target := network + " (" + ifname + ")"
	c, err := nclient4.New(ifname, nclient4.WithTimeout(dhcpWait), nclient4.WithRetry(2))
	if err != nil {
		return []Result{failure(target, "run the doctor as root on the jump host, with the lab's interfaces up", "cannot send a DHCPDISCOVER: %v", err)}
	}
	defer c.Close()
	var mu sync.Mutex
	offers := map[string]offer{} // by server id
	collect := func(m *dhcpv4.DHCPv4) bool {
		if m.MessageType() != dhcpv4.MessageTypeOffer {
			return false
		}
		id := m.ServerIdentifier()
		o := offer{offered: m.YourIPAddr.String()}
		if id != nil {
			o.server = id.String()
		}
		if r := m.Router(); len(r) > 0 {
			o.router = r[0].String()
		}
		if a, ok := netip.AddrFromSlice(id.To4()); ok && own[a] {
			return false
		}
		mu.Lock()
		offers[o.server] = o
		mu.Unlock()
		return false // keep listening: every server's offer counts
	}
	disc, err := dhcpv4.NewDiscovery(c.InterfaceAddr(), dhcpv4.WithBroadcast(true))
	if err != nil {
		return []Result{failure(target, "", "build a DHCPDISCOVER: %v", err)}
	}
	_, err = c.SendAndRead(ctx, c.RemoteAddr(), disc, collect)
	if err != nil && err != nclient4.ErrNoResponse && ctx.Err() == nil {
		return []Result{failure(target, "run the doctor as root on the jump host, with the lab's interfaces up", "DHCPDISCOVER on %s: %v", ifname, err)}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(offers) == 0 {
		return []Result{ok(target, "no other DHCP server answered a DHCPDISCOVER")}
	}
	ids := make([]string, 0, len(offers))
	for id := range offers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var out []Result
	for _, id := range ids {
		o := offers[id]
		details := []string{"offered " + o.offered}
		if o.router != "" {
			details = append(details, "router "+o.router)
		}
		out = append(out, failure(fmt.Sprintf("server %s on %s", id, network),
			"the nodes may take their address and boot file from it: stop that DHCP server on this fabric (often a router's, a libvirt network's or a forgotten dnsmasq), or keep it off the lab's VLAN",
			"another DHCP server answers on %s: server id %s, %s", ifname, id, strings.Join(details, ", ")))
	}
	return out
}
