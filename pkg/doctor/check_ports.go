package doctor

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/config"
)

// portsCheck: nothing else already listens on the appliance's DNS, DHCP, TFTP, HTTP and NTP ports on
// the lab addresses (a wildcard listener counts: it takes every address). It reads the
// sockets from /proc/net (the jump host's network namespace) and names the owning process
// from /proc/<pid>/fd when it can. The appliance's own sockets (this process's) are not
// "something else", so the check means the same before serve and inside it.
var portsCheck = Check{
	Name:    "ports",
	Needs:   "/proc/net/{tcp,udp}{,6}; /proc/<pid>/fd of other processes (root) to name them",
	Timeout: 5 * time.Second,
	Run:     checkPorts,
}

// wantedPort is one socket the appliance binds.
type wantedPort struct {
	service string // DNS, DHCP, TFTP, HTTP, NTP
	proto   string // tcp | udp
	addr    netip.Addr
	port    uint16
	setting string // the lab key that moves it
}

func wantedPorts(lab *config.Lab) []wantedPort {
	var out []wantedPort
	loopback := netip.MustParseAddr("127.0.0.1")
	dnsAddrs := []netip.Addr{loopback}
	for _, n := range lab.Networks {
		dnsAddrs = append(dnsAddrs, n.Address)
	}
	for _, a := range dnsAddrs {
		for _, proto := range []string{"udp", "tcp"} {
			out = append(out, wantedPort{"DNS", proto, a, uint16(lab.DNS.Port), "dns.port"})
		}
	}
	// The DHCP server binds the wildcard address per interface: anything on the port clashes.
	out = append(out, wantedPort{"DHCP", "udp", netip.IPv4Unspecified(), uint16(lab.DHCP.Port), "dhcp.port"})
	for _, n := range lab.Networks {
		if lab.NetworkBoot() {
			out = append(out, wantedPort{"TFTP", "udp", n.Address, uint16(lab.Boot.TFTPPort), "boot.tftpPort"})
		}
		out = append(out, wantedPort{"HTTP", "tcp", n.Address, uint16(lab.Boot.HTTPPort), "boot.httpPort"})
		if lab.NTP.Serving() {
			out = append(out, wantedPort{"NTP", "udp", n.Address, uint16(lab.NTP.Port), "ntp.port"})
		}
	}
	return out
}

func checkPorts(_ context.Context, env *Env) []Result {
	socks, err := listeningSockets()
	if err != nil {
		return []Result{failure("sockets", "run the doctor on Linux with /proc mounted", "cannot read the listening sockets: %v", err)}
	}
	owners := socketOwners()
	var out []Result
	wanted := wantedPorts(env.Lab)
	for _, w := range wanted {
		for _, s := range socks {
			if s.proto != w.proto || s.port != w.port || !clashes(s.addr, w.addr) {
				continue
			}
			owner, known := owners[s.inode]
			if known && owner.self {
				continue
			}
			who := "another process (run the doctor as root to name it)"
			if known {
				who = fmt.Sprintf("%s (pid %d)", owner.name, owner.pid)
			}
			out = append(out, failure(fmt.Sprintf("%s %s", w.proto, netip.AddrPortFrom(w.addr, w.port)),
				fmt.Sprintf("stop %s (and disable it at boot), or move the appliance's %s with %s", who, w.service, w.setting),
				"the appliance's %s port is taken by %s, listening on %s", w.service, who, netip.AddrPortFrom(s.addr, s.port)))
			break
		}
	}
	if len(out) == 0 {
		out = append(out, ok("DNS, DHCP, TFTP, HTTP, NTP", "%d sockets the appliance binds are free (or its own)", len(wanted)))
	}
	return out
}

// clashes says whether a socket bound to have keeps the appliance from binding want.
func clashes(have, want netip.Addr) bool {
	have = have.Unmap()
	return have == want || have.IsUnspecified() || want.IsUnspecified()
}

// socket is one listening socket from /proc/net.
type socket struct {
	proto string
	addr  netip.Addr
	port  uint16
	inode string
}

// owner is the process holding a socket.
type owner struct {
	pid  int
	name string
	self bool
}
