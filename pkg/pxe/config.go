package pxe

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"
)

// UnknownAction is what a MAC outside the lab gets when it asks for its script.
type UnknownAction string

const (
	// UnknownExit: the script exits, and the firmware tries its next boot device.
	UnknownExit UnknownAction = "exit"
	// UnknownRetry: the script waits RetryAfter and asks again (for nodes added to the lab
	// by a reload while they sit in iPXE).
	UnknownRetry UnknownAction = "retry"
)

// DiskBoot is how the disk profile boots the local disk.
//
//   - DiskBootAuto (default): on BIOS (${platform} pcbios) `sanboot --no-describe --drive 0x80`
//     boots the first hard disk through INT 13h, and if that fails `exit` hands back to the
//     BIOS, which tries the next device in its boot order; on UEFI `exit` returns to the boot
//     manager, which boots the next entry (the disk, when the boot order is network first).
//   - DiskBootExit: `exit` on every firmware.
//   - DiskBootSanboot: `sanboot --no-describe --drive 0x80` on every firmware, then `exit`
//     (UEFI iPXE has no INT 13h drive 0x80, so this is only for BIOS labs).
type DiskBoot string

const (
	DiskBootAuto    DiskBoot = "auto"
	DiskBootExit    DiskBoot = "exit"
	DiskBootSanboot DiskBoot = "sanboot"
)

// Config is everything the PXE service needs; pkg/appliance derives it from the lab.
type Config struct {
	// TFTPListen are the TFTP listeners (UDP); empty: no TFTP.
	TFTPListen []netip.AddrPort
	// TFTPRoot is the folder of iPXE binaries served over TFTP and at /<name> over HTTP.
	// Symbolic links inside it are followed (Debian links ipxe.efi to /boot/ipxe.efi): the
	// folder is the administrator's; only the names clients send are checked.
	TFTPRoot string
	// HTTPListen are the HTTP boot listeners (TCP).
	HTTPListen []netip.AddrPort
	// Nodes are the lab's machines; their MACs get boot profiles, the others UnknownAction.
	Nodes []Node
	// Unknown is what MACs outside the lab get (default UnknownExit).
	Unknown UnknownAction
	// RetryAfter is the wait in "retry" scripts (default 30s).
	RetryAfter time.Duration
	// DiskBoot is how the disk profile boots (default DiskBootAuto).
	DiskBoot DiskBoot
	// CacheDir holds the boot artifacts (kernel, initrds, rootfs, manifest.json).
	CacheDir string
	// ISOFile, if set, is served at /iso/<its base name> (Redfish virtual media, libvirt).
	ISOFile string
	// ExtraKernelArgs are appended to the discovery kernel's arguments.
	ExtraKernelArgs []string

	// AllowFrom are the networks whose clients TFTP and HTTP boot answer; loopback is always
	// allowed. Others are refused: HTTP connections are reset, TFTP requests get "access
	// violation". Empty: loopback only.
	AllowFrom []netip.Prefix
	// HTTPIdleTimeout closes keep-alive connections idle this long (default 2m).
	HTTPIdleTimeout time.Duration
	// HTTPMaxConns caps the HTTP connections in total (default DefaultMaxConns(FDLimit())).
	HTTPMaxConns int
	// HTTPMaxConnsPerClient caps them per client address (default 32).
	HTTPMaxConnsPerClient int
}

// HTTP timeouts. A download has no total deadline: the client must take writeChunk/2 bytes in
// every writeStall/2 (writeChunk per writeStall), so a multi-GiB rootfs over a slow link
// finishes and a client that stops reading is cut within writeStall. The file goes out in one
// sendfile loop; the deadline moves only when it passes (see countingWriter.ReadFrom).
const (
	DefaultHTTPIdleTimeout = 2 * time.Minute
	httpReadHeaderTimeout  = 10 * time.Second
	httpReadTimeout        = 30 * time.Second // a GET has no body; this bounds the headers
	httpWriteTimeout       = time.Minute      // scripts and headers; downloads push it forward
	writeChunk             = 1 << 20
)

// writeStall is how long a client may take to accept writeChunk bytes of a download (a
// variable for tests).
var writeStall = time.Minute

// Node is one lab machine: its name (used in logs and metric labels) and its NICs' MACs.
type Node struct {
	Name string
	MACs []net.HardwareAddr
}

// compiled is a checked Config with lookup tables.
type compiled struct {
	Config
	nodeByMAC map[string]string // macKey -> node name
}

func compile(cfg Config) (*compiled, error) {
	c := &compiled{Config: cfg, nodeByMAC: map[string]string{}}
	switch c.Unknown {
	case "":
		c.Unknown = UnknownExit
	case UnknownExit, UnknownRetry:
	default:
		return nil, fmt.Errorf("unknown MAC action %q: want exit or retry", c.Unknown)
	}
	switch c.DiskBoot {
	case "":
		c.DiskBoot = DiskBootAuto
	case DiskBootAuto, DiskBootExit, DiskBootSanboot:
	default:
		return nil, fmt.Errorf("disk boot %q: want auto, exit or sanboot", c.DiskBoot)
	}
	if c.HTTPIdleTimeout <= 0 {
		c.HTTPIdleTimeout = DefaultHTTPIdleTimeout
	}
	if c.HTTPMaxConns <= 0 {
		c.HTTPMaxConns = DefaultMaxConns(FDLimit())
	}
	if c.HTTPMaxConnsPerClient <= 0 {
		c.HTTPMaxConnsPerClient = DefaultHTTPMaxConnsPerClient
	}
	for _, p := range c.AllowFrom {
		if !p.IsValid() {
			return nil, fmt.Errorf("allowed networks: %v is not a network", p)
		}
	}
	if c.RetryAfter <= 0 {
		c.RetryAfter = 30 * time.Second
	}
	if len(c.TFTPListen) > 0 && c.TFTPRoot == "" {
		return nil, fmt.Errorf("tftp: no folder to serve")
	}
	for _, n := range c.Nodes {
		for _, mac := range n.MACs {
			if len(mac) != 6 {
				return nil, fmt.Errorf("node %s: MAC %s is not a 6-byte Ethernet MAC", n.Name, mac)
			}
			k := macKey(mac)
			if other, dup := c.nodeByMAC[k]; dup && other != n.Name {
				return nil, fmt.Errorf("node %s: MAC %s also belongs to %s", n.Name, mac, other)
			}
			c.nodeByMAC[k] = n.Name
		}
	}
	return c, nil
}

// sameListeners reports whether two configs bind the same sockets.
func sameListeners(a, b *compiled) bool {
	return slices.Equal(a.TFTPListen, b.TFTPListen) && slices.Equal(a.HTTPListen, b.HTTPListen)
}

// allowed says whether a TFTP or HTTP client at a may be answered.
func (c *compiled) allowed(a netip.Addr) bool {
	a = a.Unmap()
	if a.IsLoopback() {
		return true
	}
	for _, p := range c.AllowFrom {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
