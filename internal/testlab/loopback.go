package testlab

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/cn2-appliance/cn2-appliance/internal/freeport"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
)

// The example lab's networks and where Loopback moves them.
var (
	ctrlNet = netip.MustParsePrefix("172.16.0.0/24")
	dataNet = netip.MustParsePrefix("10.16.0.0/24")
)

// Moved is where Loopback moves an address of the example lab: 172.16.0.x becomes
// 127.16.0.x, 10.16.0.x becomes 127.17.0.x; other addresses stay.
func Moved(a netip.Addr) netip.Addr {
	if !a.Is4() {
		return a
	}
	b := a.As4()
	switch {
	case ctrlNet.Contains(a):
		return netip.AddrFrom4([4]byte{127, 16, 0, b[3]})
	case dataNet.Contains(a):
		return netip.AddrFrom4([4]byte{127, 17, 0, b[3]})
	}
	return a
}

// Loopback is the example lab moved onto loopback so that a test can run the appliance for
// real without root or namespaces: ctrl is 127.16.0.0/24, served by DHCP on lo; data is
// 127.17.0.0/24, reached through relays only; every listener gets a free port, DNS forwards
// nowhere, and TFTP serves a folder of the test's. Nothing leaves the host. The lab is not
// re-validated (its data network has no interface, which a lab file may not say).
func Loopback(t testing.TB) *config.Lab {
	t.Helper()
	lab := Copy(Example(t))
	for i := range lab.Networks {
		n := &lab.Networks[i]
		n.CIDR = netip.PrefixFrom(Moved(n.CIDR.Addr()), n.CIDR.Bits())
		n.Address, n.Gateway = Moved(n.Address), Moved(n.Gateway)
		if n.Pool.IsSet() {
			n.Pool = config.Range{First: Moved(n.Pool.First), Last: Moved(n.Pool.Last)}
		}
		n.Interface = ""
	}
	lab.Networks[0].Interface = "lo"
	lab.Cluster.MachineNetwork = lab.Networks[0].CIDR
	lab.Cluster.APIVIP, lab.Cluster.IngressVIP = Moved(lab.Cluster.APIVIP), Moved(lab.Cluster.IngressVIP)
	for i := range lab.Nodes {
		for j := range lab.Nodes[i].NICs {
			lab.Nodes[i].NICs[j].IP = Moved(lab.Nodes[i].NICs[j].IP)
		}
	}
	lab.DHCP.NTPServers = []netip.Addr{lab.Networks[0].Address}
	lab.DNS.Forwarders = nil
	lab.DNS.Port, lab.DHCP.Port, lab.Boot.TFTPPort, lab.Boot.HTTPPort = FreePort(t), FreePort(t), FreePort(t), FreePort(t)
	lab.Status.Listen = config.Endpoint{Addr: netip.MustParseAddr("127.0.0.1"), Port: uint16(FreePort(t))}
	lab.Boot.TFTPRoot = t.TempDir()
	if err := os.WriteFile(filepath.Join(lab.Boot.TFTPRoot, "undionly.kpxe"), []byte("ipxe"), 0o600); err != nil {
		t.Fatal(err)
	}
	return lab
}

// Copy copies a lab deep enough for a test to change its networks and nodes.
func Copy(l *config.Lab) *config.Lab {
	c := *l
	c.Networks = append([]config.Network(nil), l.Networks...)
	c.Nodes = nil
	for _, n := range l.Nodes {
		n.NICs = append([]config.NIC(nil), n.NICs...)
		c.Nodes = append(c.Nodes, n)
	}
	return &c
}

// FreePort is a port that was free a moment ago for UDP and TCP on every address.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := freeport.Port()
	if err != nil {
		t.Fatal(err)
	}
	return port
}
