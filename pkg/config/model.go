package config

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
)

// This file derives what the services need from a validated lab. Everything here is a pure
// function of the Lab.
//
// Naming rule for DNS (documented in the README):
//   <node>.<cluster>.<baseDomain>          the node's address on the machine network
//   <node>.<network>.<cluster>.<baseDomain> the node's address on each lab network (machine network too)
//   api, api-int                           the API VIP
//   *.apps                                 the ingress VIP (the only wildcard)
//   ingress                                the ingress VIP (so the VIP has a PTR target)
//   ns                                     the appliance's address on the machine network
// PTR records point each node address, each VIP and the appliance's machine-network address
// back to the first name above that carries it.

// Zone is the cluster's DNS zone, <cluster>.<baseDomain>, without the trailing dot.
func (l *Lab) Zone() string { return l.Cluster.Name + "." + l.Cluster.BaseDomain }

// MachineNetwork returns the lab network that is the cluster's machine network, or nil.
func (l *Lab) MachineNetwork() *Network {
	for i := range l.Networks {
		if l.Networks[i].CIDR.IsValid() && l.Networks[i].CIDR == l.Cluster.MachineNetwork {
			return &l.Networks[i]
		}
	}
	return nil
}

// Network returns the lab network with that name, or nil.
func (l *Lab) Network(name string) *Network {
	for i := range l.Networks {
		if l.Networks[i].Name == name {
			return &l.Networks[i]
		}
	}
	return nil
}

// NetworkNames lists the lab networks' names in file order.
func (l *Lab) NetworkNames() []string {
	names := make([]string, len(l.Networks))
	for i, n := range l.Networks {
		names[i] = n.Name
	}
	return names
}

// Reservation is a fixed DHCP lease: a node's NIC always gets this address and host name.
type Reservation struct {
	Network  string     `json:"network"`
	Node     string     `json:"node"`
	MAC      MAC        `json:"mac"`
	IP       netip.Addr `json:"ip"`
	Hostname string     `json:"hostname"`
}

// Reservations lists the DHCP reservations of one network ("" for all), in file order.
// Every NIC sends the node's short name as host name; the domain comes from the zone.
func (l *Lab) Reservations(network string) []Reservation {
	var out []Reservation
	for _, n := range l.Nodes {
		for _, nic := range n.NICs {
			if network == "" || nic.Network == network {
				out = append(out, Reservation{Network: nic.Network, Node: n.Name, MAC: nic.MAC, IP: nic.IP, Hostname: n.Name})
			}
		}
	}
	return out
}

// NodeByMAC finds the node that owns a NIC with this MAC.
func (l *Lab) NodeByMAC(mac MAC) (*Node, NIC, bool) {
	for i := range l.Nodes {
		for _, nic := range l.Nodes[i].NICs {
			if nic.MAC == mac {
				return &l.Nodes[i], nic, true
			}
		}
	}
	return nil, NIC{}, false
}

// Node returns the node with that name, or nil.
func (l *Lab) Node(name string) *Node {
	for i := range l.Nodes {
		if l.Nodes[i].Name == name {
			return &l.Nodes[i]
		}
	}
	return nil
}

// DNS record types the lab zone uses.
const (
	RecordA   = "A"
	RecordPTR = "PTR"
)

// DNSRecord is one resource record; names are fully qualified with a trailing dot.
type DNSRecord struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Value string `json:"value"`
}

// DNSZone is a zone the appliance is authoritative for.
type DNSZone struct {
	Origin  string      `json:"origin"`
	NS      string      `json:"ns"`
	Records []DNSRecord `json:"records"`
}

// DNSZones derives the cluster zone and one reverse zone per lab network (networks that share
// an octet-aligned reverse zone share it). The cluster zone comes first.
func (l *Lab) DNSZones() []DNSZone {
	zone := l.Zone() + "."
	fqdn := func(labels ...string) string { return strings.Join(append(labels, zone), ".") }
	ns := fqdn("ns")
	forward := DNSZone{Origin: zone, NS: ns}
	ptrs := map[netip.Addr]string{}
	a := func(name string, ip netip.Addr, ptr bool) {
		forward.Records = append(forward.Records, DNSRecord{Name: name, Type: RecordA, Value: ip.String()})
		if _, seen := ptrs[ip]; ptr && !seen {
			ptrs[ip] = name
		}
	}
	if mn := l.MachineNetwork(); mn != nil {
		a(ns, mn.Address, true)
	}
	a(fqdn("api"), l.Cluster.APIVIP, true)
	a(fqdn("api-int"), l.Cluster.APIVIP, false)
	a(fqdn("ingress"), l.Cluster.IngressVIP, true)
	a(fqdn("*", "apps"), l.Cluster.IngressVIP, false)
	for _, n := range l.Nodes {
		for _, nic := range n.NICs {
			if net := l.Network(nic.Network); net != nil && net.CIDR == l.Cluster.MachineNetwork {
				a(fqdn(n.Name), nic.IP, true)
			}
		}
		for _, nic := range n.NICs {
			a(fqdn(n.Name, nic.Network), nic.IP, true)
		}
	}

	zones := []DNSZone{forward}
	byOrigin := map[string]int{}
	for _, net := range l.Networks {
		origin := ReverseZone(net.CIDR)
		if _, ok := byOrigin[origin]; !ok {
			byOrigin[origin] = len(zones)
			zones = append(zones, DNSZone{Origin: origin, NS: ns})
		}
	}
	addrs := make([]netip.Addr, 0, len(ptrs))
	for ip := range ptrs {
		addrs = append(addrs, ip)
	}
	sort.Slice(addrs, func(i, j int) bool { return addrs[i].Less(addrs[j]) })
	for _, ip := range addrs {
		for _, net := range l.Networks {
			if net.CIDR.Contains(ip) {
				z := &zones[byOrigin[ReverseZone(net.CIDR)]]
				z.Records = append(z.Records, DNSRecord{Name: ReverseName(ip), Type: RecordPTR, Value: ptrs[ip]})
				break
			}
		}
	}
	return zones
}

// ReverseZone is the in-addr.arpa zone holding the prefix's PTR records, widened to the
// enclosing octet boundary (a /25 lives in its /24's zone).
func ReverseZone(p netip.Prefix) string {
	b := p.Masked().Addr().As4()
	octets := max(p.Bits()/8, 1)
	var labels []string
	for i := octets - 1; i >= 0; i-- {
		labels = append(labels, fmt.Sprint(b[i]))
	}
	return strings.Join(labels, ".") + ".in-addr.arpa."
}

// ReverseName is the PTR owner name of an IPv4 address.
func ReverseName(ip netip.Addr) string {
	b := ip.As4()
	return fmt.Sprintf("%d.%d.%d.%d.in-addr.arpa.", b[3], b[2], b[1], b[0])
}

// Label is a Kubernetes node label the installer applies.
type Label struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// DPDKLabels are what the CN2 manifests select DPDK workers by: the vRouter DPDK custom
// resource needs agent-mode=dpdk, the dpdk MachineConfigPool node-role.kubernetes.io/dpdk.
var DPDKLabels = []Label{{Key: "agent-mode", Value: "dpdk"}, {Key: "node-role.kubernetes.io/dpdk", Value: ""}}

// Installer host roles (the Assisted Installer's names).
const (
	HostRoleMaster = "master"
	HostRoleWorker = "worker"
)

// ExpectedHost is a host the installer should see, and what to set on it once it registers.
type ExpectedHost struct {
	Name   string  `json:"name"`
	Role   string  `json:"role"` // installer role: master | worker
	MACs   []MAC   `json:"macs"`
	Labels []Label `json:"labels,omitempty"`
}

// ExpectedHosts lists the hosts the installer must discover, in file order.
func (l *Lab) ExpectedHosts() []ExpectedHost {
	out := make([]ExpectedHost, 0, len(l.Nodes))
	for _, n := range l.Nodes {
		h := ExpectedHost{Name: n.Name, Role: HostRoleWorker}
		if n.Role == RoleControlPlane {
			h.Role = HostRoleMaster
		}
		for _, nic := range n.NICs {
			h.MACs = append(h.MACs, nic.MAC)
		}
		if n.DPDK {
			h.Labels = append(h.Labels, DPDKLabels...)
		}
		keys := make([]string, 0, len(n.Labels))
		for k := range n.Labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			h.Labels = append(h.Labels, Label{Key: k, Value: n.Labels[k]})
		}
		out = append(out, h)
	}
	return out
}

// BootStep is how and when one node is booted into the discovery image.
type BootStep struct {
	Wave   int    `json:"wave"` // 1: control plane, 2: workers (booted once the control plane is bound)
	Node   string `json:"node"`
	Role   string `json:"role"`
	Method string `json:"method"` // pxe | virtual-media | uefi-http
	Driver string `json:"driver"`
	MAC    MAC    `json:"mac"` // the NIC that boots: the one on the machine network
}

// BootPlan lists the nodes in boot order: control plane first, then workers.
func (l *Lab) BootPlan() []BootStep {
	var out []BootStep
	for _, wave := range []struct {
		n    int
		role string
	}{{1, RoleControlPlane}, {2, RoleWorker}} {
		for _, n := range l.Nodes {
			if n.Role != wave.role {
				continue
			}
			s := BootStep{Wave: wave.n, Node: n.Name, Role: n.Role, Method: n.BootMethod, Driver: n.BMC.Driver}
			for _, nic := range n.NICs {
				if net := l.Network(nic.Network); net != nil && net.CIDR == l.Cluster.MachineNetwork {
					s.MAC = nic.MAC
				}
			}
			out = append(out, s)
		}
	}
	return out
}

// NetworkBoot says whether any node boots over the network: by PXE, or by UEFI HTTP boot,
// which falls back to PXE where the BMC cannot set a boot URI. Then DHCP hands out PXE options
// on the machine network and TFTP serves the iPXE binaries.
func (l *Lab) NetworkBoot() bool {
	return slices.ContainsFunc(l.Nodes, func(n Node) bool { return n.BootMethod == BootPXE || n.BootMethod == BootUEFIHTTP })
}

// ApplianceNetwork returns the lab network on which a is the appliance's own address, or nil.
func (l *Lab) ApplianceNetwork(a netip.Addr) *Network {
	for i := range l.Networks {
		if a.IsValid() && l.Networks[i].Address == a {
			return &l.Networks[i]
		}
	}
	return nil
}

// namesOtherNTPServers says whether the lab lists an NTP server that is not the appliance.
func (l *Lab) namesOtherNTPServers() bool {
	lists := [][]netip.Addr{l.DHCP.NTPServers}
	for _, n := range l.Networks {
		lists = append(lists, n.NTPServers)
	}
	for _, list := range lists {
		for _, a := range list {
			if l.ApplianceNetwork(a) == nil {
				return true
			}
		}
	}
	return false
}

// NTPServers are the NTP servers DHCP hands out on a network (option 42): the network's own
// ntpServers if it lists some, else dhcp.ntpServers, else the appliance's address on that
// network when the appliance serves NTP, else none.
func (l *Lab) NTPServers(network string) []netip.Addr {
	n := l.Network(network)
	switch {
	case n == nil:
		return nil
	case len(n.NTPServers) > 0:
		return n.NTPServers
	case len(l.DHCP.NTPServers) > 0:
		return l.DHCP.NTPServers
	case l.NTP.Serving():
		return []netip.Addr{n.Address}
	}
	return nil
}

// NTPEndpoints are where a node on network asks for the time: NTPServers(network), the
// appliance's own addresses on ntp.port, any other server on 123.
func (l *Lab) NTPEndpoints(network string) []netip.AddrPort {
	var out []netip.AddrPort
	for _, a := range l.NTPServers(network) {
		port := uint16(DefaultNTPPort)
		if l.ApplianceNetwork(a) != nil {
			port = uint16(l.NTP.Port)
		}
		out = append(out, netip.AddrPortFrom(a, port))
	}
	return out
}

// InfraEnvNTPSources is the infra env's additional_ntp_sources, so the discovery agent syncs
// to the lab's time: the machine network's NTP servers, comma-separated ("" for none).
func (l *Lab) InfraEnvNTPSources() string {
	mn := l.MachineNetwork()
	if mn == nil {
		return ""
	}
	var list []string
	for _, a := range l.NTPServers(mn.Name) {
		list = append(list, a.String())
	}
	return strings.Join(list, ",")
}
