package dhcp

import (
	"encoding/binary"
	"net"
	"strconv"
	"strings"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// Client system architectures (option 93, RFC 4578 and the IANA registry).
const (
	archBIOS      = 0
	archEFIIA32   = 6
	archEFIx64    = 7
	archEFIBC     = 9 // x86-64 too
	archEFIARM64  = 11
	archHTTPx64   = 16
	archHTTPARM64 = 19
)

// bootKind says which boot answer a client gets.
type bootKind string

const (
	bootNone  bootKind = ""
	bootBIOS  bootKind = "bios"  // TFTP BIOSFile
	bootUEFI  bootKind = "uefi"  // TFTP UEFIFile
	bootARM64 bootKind = "arm64" // TFTP ARM64File
	bootHTTP  bootKind = "http"  // HTTP URL of the UEFI binary, option 60 HTTPClient
	bootIPXE  bootKind = "ipxe"  // HTTP URL of the per-MAC iPXE script
)

// bootAnswer is what goes into a reply for a netboot client.
type bootAnswer struct {
	kind       bootKind
	file       string // option 67 (and the BOOTP file field when it fits)
	nextServer net.IP // siaddr; option 66 for TFTP answers
	httpClient bool   // echo option 60 "HTTPClient"
}

// clientArch returns the first architecture of option 93, or, failing that,
// the Arch field of a PXEClient/HTTPClient vendor class; -1 if neither.
func clientArch(req *dhcpv4.DHCPv4, vendorClass string) int {
	if v := req.Options.Get(dhcpv4.OptionClientSystemArchitectureType); len(v) >= 2 {
		return int(binary.BigEndian.Uint16(v))
	}
	// "PXEClient:Arch:00007:UNDI:003016"
	f := strings.Split(vendorClass, ":")
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "Arch" {
			if a, err := strconv.Atoi(f[i+1]); err == nil && a >= 0 && a <= 0xffff {
				return a
			}
		}
	}
	return -1
}

// isIPXE reports whether the client says it is iPXE (user class "iPXE",
// raw as iPXE sends it or RFC 3004 encoded).
func isIPXE(req *dhcpv4.DHCPv4) bool {
	if !req.Options.Has(dhcpv4.OptionUserClassInformation) {
		return false
	}
	for _, uc := range req.UserClass() {
		if uc == "iPXE" {
			return true
		}
	}
	return false
}

// selectBoot decides the boot answer for req on n. known says whether the
// MAC has a reservation.
func selectBoot(n *network, req *dhcpv4.DHCPv4, known bool) bootAnswer {
	b := n.Boot
	if b == nil || (b.KnownOnly && !known) {
		return bootAnswer{}
	}
	vc := req.ClassIdentifier()
	pxe := strings.HasPrefix(vc, "PXEClient")
	http := strings.HasPrefix(vc, "HTTPClient")
	ipxe := isIPXE(req)
	if !pxe && !http && !ipxe {
		return bootAnswer{}
	}
	next := net.IP(b.TFTPServer.AsSlice())
	if ipxe && b.HTTPBase != "" {
		return bootAnswer{kind: bootIPXE, file: b.IPXEScriptURL(req.ClientHWAddr), nextServer: next}
	}
	arch := clientArch(req, vc)
	if http || arch == archHTTPx64 || arch == archHTTPARM64 {
		file := b.UEFIFile
		if arch == archHTTPARM64 || arch == archEFIARM64 {
			file = b.ARM64File
		}
		if b.HTTPBase == "" || file == "" {
			return bootAnswer{}
		}
		return bootAnswer{kind: bootHTTP, file: b.httpURL(file), nextServer: next, httpClient: true}
	}
	var kind bootKind
	var file string
	switch arch {
	case archBIOS, -1:
		kind, file = bootBIOS, b.BIOSFile
	case archEFIx64, archEFIBC:
		kind, file = bootUEFI, b.UEFIFile
	case archEFIARM64:
		kind, file = bootARM64, b.ARM64File
	}
	if file == "" {
		return bootAnswer{}
	}
	return bootAnswer{kind: kind, file: file, nextServer: next}
}

// apply writes the boot answer into resp.
func (a bootAnswer) apply(resp *dhcpv4.DHCPv4) {
	if a.kind == bootNone {
		return
	}
	resp.ServerIPAddr = a.nextServer
	if len(a.file) < 128 {
		resp.BootFileName = a.file
	}
	resp.UpdateOption(dhcpv4.OptBootFileName(a.file))
	if a.httpClient {
		resp.UpdateOption(dhcpv4.OptClassIdentifier("HTTPClient"))
		return
	}
	if a.kind != bootIPXE {
		resp.UpdateOption(dhcpv4.OptTFTPServerName(a.nextServer.String()))
	}
}
