package dhcp

import (
	"net"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

func TestPXESelection(t *testing.T) {
	vc := func(s string) dhcpv4.Modifier { return dhcpv4.WithOption(dhcpv4.OptClassIdentifier(s)) }
	arch := func(a iana.Arch) dhcpv4.Modifier { return dhcpv4.WithOption(dhcpv4.OptClientArch(a)) }
	rawIPXE := dhcpv4.WithGeneric(dhcpv4.OptionUserClassInformation, []byte("iPXE"))
	rfcIPXE := dhcpv4.WithOption(dhcpv4.OptRFC3004UserClass([]string{"iPXE"}))
	const base = "http://172.16.0.1:8080"
	for _, tc := range []struct {
		name     string
		mac      net.HardwareAddr
		mods     []dhcpv4.Modifier
		noARM    bool
		file     string // "" = no boot answer
		tftp     bool   // option 66 and siaddr of the TFTP server
		echoHTTP bool
	}{
		{name: "plain DHCP client", mac: macM0},
		{name: "BIOS by option 93", mac: macM0, mods: []dhcpv4.Modifier{vc("PXEClient:Arch:00000:UNDI:002001"), arch(iana.INTEL_X86PC)}, file: "undionly.kpxe", tftp: true},
		{name: "BIOS by vendor class only", mac: macM0, mods: []dhcpv4.Modifier{vc("PXEClient:Arch:00000:UNDI:002001")}, file: "undionly.kpxe", tftp: true},
		{name: "UEFI x64 (7)", mac: macM0, mods: []dhcpv4.Modifier{vc("PXEClient:Arch:00007:UNDI:003016"), arch(iana.EFI_X86_64)}, file: "ipxe.efi", tftp: true},
		{name: "UEFI x64 (9)", mac: macM0, mods: []dhcpv4.Modifier{vc("PXEClient:Arch:00009:UNDI:003016"), arch(iana.EFI_BC)}, file: "ipxe.efi", tftp: true},
		{name: "UEFI x64 from vendor class Arch", mac: macM0, mods: []dhcpv4.Modifier{vc("PXEClient:Arch:00007:UNDI:003016")}, file: "ipxe.efi", tftp: true},
		{name: "arm64", mac: macM0, mods: []dhcpv4.Modifier{vc("PXEClient:Arch:00011:UNDI:003016"), arch(iana.EFI_ARM64)}, file: "ipxe-arm64.efi", tftp: true},
		{name: "arm64 not configured", mac: macM0, noARM: true, mods: []dhcpv4.Modifier{vc("PXEClient:Arch:00011:UNDI:003016"), arch(iana.EFI_ARM64)}},
		{name: "IA32 UEFI unsupported", mac: macM0, mods: []dhcpv4.Modifier{vc("PXEClient:Arch:00006:UNDI:003016"), arch(iana.EFI_IA32)}},
		{name: "UEFI HTTP boot", mac: macM0, mods: []dhcpv4.Modifier{vc("HTTPClient:Arch:00016:UNDI:003001"), arch(iana.Arch(16))}, file: base + "/ipxe.efi", echoHTTP: true},
		{name: "UEFI HTTP boot arm64", mac: macM0, mods: []dhcpv4.Modifier{vc("HTTPClient:Arch:00019:UNDI:003001"), arch(iana.Arch(19))}, file: base + "/ipxe-arm64.efi", echoHTTP: true},
		{name: "iPXE (raw user class)", mac: macM0, mods: []dhcpv4.Modifier{vc("PXEClient:Arch:00000:UNDI:002001"), arch(iana.INTEL_X86PC), rawIPXE}, file: base + "/boot/52-54-00-00-00-11.ipxe"},
		{name: "iPXE (RFC 3004 user class)", mac: macM0, mods: []dhcpv4.Modifier{rfcIPXE}, file: base + "/boot/52-54-00-00-00-11.ipxe"},
		{name: "unknown MAC: known only", mac: macU1, mods: []dhcpv4.Modifier{vc("PXEClient:Arch:00000:UNDI:002001"), arch(iana.INTEL_X86PC)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := labConfig()
			if tc.noARM {
				cfg.Networks[0].Boot.ARM64File = ""
			}
			h := newHarness(t, cfg)
			off := h.do("srv-a", discover(tc.mac, tc.mods...))
			if off == nil {
				t.Fatal("no OFFER")
			}
			ack := h.do("srv-a", request(tc.mac, addrOf(off.msg.YourIPAddr), addrOf(off.msg.ServerIdentifier()), tc.mods...))
			if ack == nil || ack.msg.MessageType() != dhcpv4.MessageTypeAck {
				t.Fatalf("no ACK: %v", ack)
			}
			for _, r := range []*reply{off, ack} {
				m := r.msg
				if got := m.BootFileNameOption(); got != tc.file {
					t.Errorf("%s: option 67 %q, want %q", m.MessageType(), got, tc.file)
				}
				if tc.file != "" && m.BootFileName != tc.file {
					t.Errorf("%s: file field %q", m.MessageType(), m.BootFileName)
				}
				if got := m.TFTPServerName(); (got == "172.16.0.1") != tc.tftp {
					t.Errorf("%s: option 66 %q, tftp=%v", m.MessageType(), got, tc.tftp)
				}
				if tc.file != "" && !m.ServerIPAddr.Equal(net.IPv4(172, 16, 0, 1)) {
					t.Errorf("%s: siaddr %s", m.MessageType(), m.ServerIPAddr)
				}
				if got := m.ClassIdentifier() == "HTTPClient"; got != tc.echoHTTP {
					t.Errorf("%s: option 60 %q, want HTTPClient echoed = %v", m.MessageType(), m.ClassIdentifier(), tc.echoHTTP)
				}
			}
		})
	}
	// KnownOnly off: unknown MACs boot too.
	cfg := labConfig()
	cfg.Networks[0].Boot.KnownOnly = false
	h := newHarness(t, cfg)
	if r := h.do("srv-a", discover(macU1, vc("PXEClient:Arch:00000:UNDI:002001"))); r == nil || r.msg.BootFileNameOption() != "undionly.kpxe" {
		t.Errorf("KnownOnly=false: unknown MAC reply %v", r)
	}
}
