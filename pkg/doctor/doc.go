// Package doctor checks a lab as the appliance will serve it, before a single node boots: the
// jump host's interfaces, address conflicts on the fabrics (ARP), rogue DHCP servers, the
// appliance's own DNS as the nodes see it, the forwarders and the installer, the pull secret,
// time, and the ports the appliance needs. Each check is one small file with the same shape
// (a Check: name, what it needs, a deadline, results that say what to do), registered in one
// list (checks.go); adding a check touches nothing else but the README.
//
// The doctor has no side effects on the lab: it sends ARP probes (RFC 5227, sender 0.0.0.0, so
// no neighbour learns anything), one DHCPDISCOVER per fabric (never a REQUEST), DNS queries,
// NTP queries and one HTTPS GET to the installer, only to the lab networks and to the
// configured forwarders, NTP servers and installer. It never reads or prints a secret's
// value. It does not start the appliance's services: the caller hands it the DNS server to
// ask (the running appliance's, or one built in-process for the standalone command).
package doctor
