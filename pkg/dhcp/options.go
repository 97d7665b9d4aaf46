package dhcp

import (
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/rfc1035label"
)

// newReply starts a reply of type mt to req from network n (RFC 2131 table
// 3): xid, flags, giaddr and chaddr copied, relay agent information (RFC
// 3046) and client identifier (RFC 6842) echoed, server identifier set.
func newReply(n *network, req *dhcpv4.DHCPv4, mt dhcpv4.MessageType) *dhcpv4.DHCPv4 {
	resp := &dhcpv4.DHCPv4{
		OpCode:        dhcpv4.OpcodeBootReply,
		HWType:        req.HWType,
		TransactionID: req.TransactionID,
		Flags:         req.Flags,
		ClientIPAddr:  net.IPv4zero,
		YourIPAddr:    net.IPv4zero,
		ServerIPAddr:  net.IPv4zero,
		GatewayIPAddr: req.GatewayIPAddr,
		ClientHWAddr:  req.ClientHWAddr,
		Options:       dhcpv4.Options{},
	}
	if resp.GatewayIPAddr == nil {
		resp.GatewayIPAddr = net.IPv4zero
	}
	resp.UpdateOption(dhcpv4.OptMessageType(mt))
	resp.UpdateOption(dhcpv4.OptServerIdentifier(ip4(n.ServerIP)))
	for _, code := range []dhcpv4.OptionCode{dhcpv4.OptionRelayAgentInformation, dhcpv4.OptionClientIdentifier} {
		if v := req.Options.Get(code); v != nil {
			resp.UpdateOption(dhcpv4.OptGeneric(code, v))
		}
	}
	return resp
}

// addConfig adds the network's configuration options: mask, router (only
// where configured), DNS, domain name and search list, NTP, broadcast
// address, MTU (only where configured), and the host name if given.
func addConfig(resp *dhcpv4.DHCPv4, n *network, hostname string) {
	resp.UpdateOption(dhcpv4.OptSubnetMask(n.mask))
	resp.UpdateOption(dhcpv4.OptBroadcastAddress(ip4(n.broadcast)))
	if n.Router.IsValid() {
		resp.UpdateOption(dhcpv4.OptRouter(ip4(n.Router)))
	}
	resp.UpdateOption(dhcpv4.OptDNS(ip4s(n.dns)...))
	if n.Domain != "" {
		resp.UpdateOption(dhcpv4.OptDomainName(n.Domain))
		resp.UpdateOption(dhcpv4.OptDomainSearch(&rfc1035label.Labels{Labels: n.search}))
	}
	if len(n.NTPServers) > 0 {
		resp.UpdateOption(dhcpv4.OptNTPServers(ip4s(n.NTPServers)...))
	}
	if n.MTU > 0 {
		resp.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionInterfaceMTU, []byte{byte(n.MTU >> 8), byte(n.MTU)}))
	}
	if hostname != "" {
		resp.UpdateOption(dhcpv4.OptHostName(hostname))
	}
}

// addLeaseTimes adds lease time, T1 (1/2) and T2 (7/8).
func addLeaseTimes(resp *dhcpv4.DHCPv4, lease time.Duration) {
	resp.UpdateOption(dhcpv4.OptIPAddressLeaseTime(lease))
	resp.UpdateOption(dhcpv4.OptRenewTimeValue(lease / 2))
	resp.UpdateOption(dhcpv4.OptRebindingTimeValue(lease * 7 / 8))
}

// cleanHostname turns a client-sent host name (option 12) into a single
// lower-case DNS label, or "" if nothing usable is left.
func cleanHostname(s string) string {
	if i := strings.IndexByte(s, '.'); i >= 0 {
		s = s[:i]
	}
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' {
			b.WriteRune(r)
		}
	}
	// Not cut to 63 characters: an over-long name stays invalid (the DNS server refuses
	// it) rather than becoming a name the client did not ask for.
	return strings.Trim(b.String(), "-")
}

func ip4(a netip.Addr) net.IP {
	if !a.IsValid() {
		return net.IPv4zero
	}
	b := a.As4()
	return net.IP(b[:])
}

func ip4s(as []netip.Addr) []net.IP {
	out := make([]net.IP, 0, len(as))
	for _, a := range as {
		out = append(out, ip4(a))
	}
	return out
}
