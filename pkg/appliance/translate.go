package appliance

import (
	"fmt"
	"net/netip"

	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/dhcp"
	"github.com/cn2-appliance/cn2-appliance/pkg/dns"
	"github.com/cn2-appliance/cn2-appliance/pkg/ntp"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// DNSConfig is the DNS server's configuration for a lab: listeners on the appliance's address
// on every lab network and on loopback, the lab's zones, its forwarders, and recursion for
// the lab networks.
func DNSConfig(lab *config.Lab) dns.Config {
	port := uint16(lab.DNS.Port)
	cfg := dns.Config{TTL: uint32(lab.DNS.TTL)}
	for _, n := range lab.Networks {
		cfg.Listen = append(cfg.Listen, netip.AddrPortFrom(n.Address, port))
		cfg.RecursionFrom = append(cfg.RecursionFrom, n.CIDR)
	}
	cfg.Listen = append(cfg.Listen, netip.AddrPortFrom(loopback, port))
	for _, f := range lab.DNS.Forwarders {
		cfg.Forwarders = append(cfg.Forwarders, f.WithDefaultPort(53))
	}
	types := map[string]uint16{config.RecordA: dns.TypeA, config.RecordPTR: dns.TypePTR}
	for _, z := range lab.DNSZones() {
		zone := dns.Zone{Origin: z.Origin, NS: z.NS}
		for _, r := range z.Records {
			zone.Records = append(zone.Records, dns.Record{Name: r.Name, Type: types[r.Type], Value: r.Value})
		}
		cfg.Zones = append(cfg.Zones, zone)
	}
	cfg.DynamicZone = lab.Zone() + "."
	cfg.ReservedNames = ReservedNames(lab)
	return cfg
}

// ReservedNames are the labels of the lab's zone that no DHCP client may take as its name:
// the cluster's own (api, api-int, ns, ingress, apps), the installer's wildcard probe
// (validateNoWildcardDNS, which must stay NXDOMAIN), every node's name, booted or not,
// and every network's name (node.network names live under it).
func ReservedNames(lab *config.Lab) []string {
	names := []string{"api", "api-int", "ns", "ingress", "apps", "validateNoWildcardDNS"}
	for _, n := range lab.Nodes {
		names = append(names, n.Name)
	}
	for _, n := range lab.Networks {
		names = append(names, n.Name)
	}
	return names
}

// iPXE binaries offered to netboot clients, as Debian's ipxe package names them.
const (
	biosBootFile = "undionly.kpxe"
	uefiBootFile = "ipxe.efi"
)

// NTPConfig is the NTP server's configuration for a lab: a listener on the appliance's address
// on every lab network when the lab serves NTP (none otherwise), and the lab's local stratum.
func NTPConfig(lab *config.Lab) ntp.Config {
	cfg := ntp.Config{LocalStratum: lab.NTP.LocalStratum}
	if lab.NTP.Serving() {
		for _, n := range lab.Networks {
			cfg.Listen = append(cfg.Listen, netip.AddrPortFrom(n.Address, uint16(lab.NTP.Port)))
		}
	}
	return cfg
}

// DHCPConfig is the DHCP servers' configuration for a lab: one per lab network, reservations for
// every node NIC, the pool where one is declared, the appliance as DNS server, the lab's NTP
// servers for each network (the appliance's address on it, by default), and netboot
// answers on the machine network (where nodes PXE-boot) when the lab boots over the network.
func DHCPConfig(lab *config.Lab) dhcp.Config {
	cfg := dhcp.Config{LeaseTime: lab.DHCP.LeaseTime.D(), Port: lab.DHCP.Port}
	for _, n := range lab.Networks {
		dn := dhcp.Network{
			Name:         n.Name,
			Interface:    n.Interface,
			Subnet:       n.CIDR,
			ServerIP:     n.Address,
			Router:       n.Gateway,
			MTU:          n.MTU,
			DNSServers:   []netip.Addr{n.Address},
			Domain:       lab.Zone(),
			NTPServers:   lab.NTPServers(n.Name),
			ServeUnknown: lab.DHCP.UnknownClients == config.UnknownClientsPool && n.Pool.IsSet(),
		}
		if n.Pool.IsSet() {
			dn.Pool = [2]netip.Addr{n.Pool.First, n.Pool.Last}
		}
		for _, r := range lab.Reservations(n.Name) {
			dn.Reservations = append(dn.Reservations, dhcp.Reservation{MAC: r.MAC.HardwareAddr(), IP: r.IP, Hostname: r.Hostname})
		}
		if lab.NetworkBoot() && n.CIDR == lab.Cluster.MachineNetwork {
			dn.Boot = &dhcp.Boot{
				TFTPServer: n.Address,
				HTTPBase:   fmt.Sprintf("http://%s", netip.AddrPortFrom(n.Address, uint16(lab.Boot.HTTPPort))),
				BIOSFile:   biosBootFile,
				UEFIFile:   uefiBootFile,
				KnownOnly:  true,
			}
		}
		cfg.Networks = append(cfg.Networks, dn)
	}
	return cfg
}
