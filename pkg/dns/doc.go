// Package dns is the appliance's DNS server: it answers authoritatively for
// the lab's cluster zone and its reverse zones, names DHCP clients from a
// dynamic record source, and forwards every other name, for lab clients only,
// to the configured upstream resolvers through a TTL-honouring cache.
//
// It owns the UDP and TCP listeners it is given, the compiled zones, the
// forwarding cache and the cn2_appliance_dns_* metrics. It does not read the
// lab file: pkg/appliance converts the lab model into a Config. It never
// imports another service; the DHCP server feeds DynamicNames through the
// wiring in pkg/appliance.
//
// All wire work (parsing, packing, truncation, EDNS0) is done by
// github.com/miekg/dns.
package dns
