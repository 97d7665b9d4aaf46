package appliance

import (
	"net/netip"

	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/dns"
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
	return cfg
}
