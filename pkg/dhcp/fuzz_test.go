package dhcp

import (
	"net"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// FuzzHandler feeds arbitrary bytes, parsed as DHCPv4 the way the socket
// loop does, through the handler and the committer, on both interfaces and
// a foreign one. Nothing may panic.
func FuzzHandler(f *testing.F) {
	seeds := []*dhcpv4.DHCPv4{
		discover(macM0),
		discover(macU1, dhcpv4.WithOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00007:UNDI:003016")),
			dhcpv4.WithOption(dhcpv4.OptClientArch(iana.EFI_X86_64))),
		discover(macM0, dhcpv4.WithGeneric(dhcpv4.OptionUserClassInformation, []byte("iPXE"))),
		discover(macU2, dhcpv4.WithRelay(net.ParseIP("172.16.0.10"))),
		request(macM0, a4("172.16.0.11"), a4("172.16.0.1")),
		request(macU1, a4("172.16.0.50"), a4("172.16.0.1"), dhcpv4.WithOption(dhcpv4.OptHostName("pc"))),
		request(macM0b, a4("10.16.0.11"), a4("10.16.0.1")),
		msg(dhcpv4.MessageTypeRelease, macU1, dhcpv4.WithClientIP(net.ParseIP("172.16.0.50"))),
		msg(dhcpv4.MessageTypeDecline, macU1, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.ParseIP("172.16.0.50")))),
		msg(dhcpv4.MessageTypeInform, macM0, dhcpv4.WithClientIP(net.ParseIP("172.16.0.11"))),
	}
	for _, s := range seeds {
		f.Add(s.ToBytes(), uint8(0))
	}
	f.Add([]byte{1, 1, 6, 0}, uint8(1))
	h := newHarness(f, labConfig())
	ifaces := []string{"srv-a", "srv-b", "eth9"}
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		h.t = t
		req, err := dhcpv4.FromBytes(data)
		if err != nil {
			return
		}
		h.do(ifaces[int(which)%len(ifaces)], req)
	})
}
