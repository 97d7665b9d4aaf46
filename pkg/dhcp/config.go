package dhcp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// Config is everything the server needs; pkg/appliance derives it from the
// lab file.
type Config struct {
	Networks []Network
	// LeaseTime is the lease lifetime (default 1h); T1 is 1/2 and T2 7/8 of it.
	LeaseTime time.Duration
	// DeclineHold is how long an address a client DECLINEd stays out of the
	// pool (default 10 minutes).
	DeclineHold time.Duration
	// Port is the server port (default 67); clients are answered on Port+1,
	// relays on Port.
	Port int
	// ReplyBurst and ReplyInterval pace replies: at most ReplyBurst replies
	// leave for one destination (a relay, a client address, an interface's
	// broadcast) per ReplyInterval; the rest wait for the next interval, so
	// a group of lease commits does not arrive as one burst that overflows a
	// client's or a relay's receive buffer. Defaults DefaultReplyBurst per
	// DefaultReplyInterval.
	ReplyBurst    int
	ReplyInterval time.Duration
}

// Network is one lab network (one subnet) the server answers on.
type Network struct {
	Name string // lab network name, e.g. "ctrl"
	// Interface is the server's NIC on this network; the socket is bound to
	// it. Empty: the network is reached only through relays (giaddr).
	Interface    string
	Subnet       netip.Prefix
	ServerIP     netip.Addr    // server identifier and the default DNS server
	Router       netip.Addr    // optional: option 3 only where set
	Pool         [2]netip.Addr // optional inclusive range; zero: no pool
	MTU          int           // optional: option 26 only where set
	DNSServers   []netip.Addr  // empty: ServerIP
	Domain       string        // option 15 and search list (119)
	NTPServers   []netip.Addr  // option 42
	Reservations []Reservation
	ServeUnknown bool  // false: MACs without a reservation are ignored
	Boot         *Boot // nil: no PXE answers on this network
}

// Reservation pins a MAC to an address and a host name.
type Reservation struct {
	MAC      net.HardwareAddr
	IP       netip.Addr
	Hostname string
}

// Boot says how netboot clients are answered.
//
// UEFI HTTP boot clients get HTTPBase+"/"+UEFIFile (ARM64File for arch 19);
// iPXE clients get HTTPBase+"/boot/"+mac+".ipxe" with the MAC in lower-case
// hyphen form (52-54-00-00-00-11), which needs no escaping in URLs or file
// names.
type Boot struct {
	TFTPServer netip.Addr // next-server (siaddr) and option 66
	HTTPBase   string     // e.g. http://172.16.0.1:8080 (no trailing slash needed)
	BIOSFile   string     // x86 BIOS (arch 0), e.g. undionly.kpxe
	UEFIFile   string     // x86-64 UEFI (arch 7, 9), e.g. ipxe.efi
	ARM64File  string     // optional, arm64 UEFI (arch 11, HTTP 19)
	// KnownOnly: boot answers only for MACs with a reservation (the lab's
	// default).
	KnownOnly bool
}

// IPXEScriptURL is the URL an iPXE client with MAC mac is sent to.
func (b *Boot) IPXEScriptURL(mac net.HardwareAddr) string {
	return strings.TrimRight(b.HTTPBase, "/") + "/boot/" + strings.ReplaceAll(mac.String(), ":", "-") + ".ipxe"
}

func (b *Boot) httpURL(file string) string {
	return strings.TrimRight(b.HTTPBase, "/") + "/" + strings.TrimLeft(file, "/")
}

// Defaults.
const (
	DefaultLeaseTime   = time.Hour
	DefaultDeclineHold = 10 * time.Minute
	DefaultPort        = 67
)

// network is a validated Network with lookup tables.
type network struct {
	Network
	mask      net.IPMask
	broadcast netip.Addr
	byMAC     map[string]Reservation // canonical MAC -> reservation
	byIP      map[netip.Addr]string  // reserved IP -> canonical MAC
	hasPool   bool
	poolSize  int          // addresses in Pool
	dns       []netip.Addr // DNS servers to announce
	search    []string     // search list
}

// compiled is a validated Config.
type compiled struct {
	cfg        Config
	networks   []*network
	byName     map[string]*network
	byIface    map[string]*network
	interfaces []string // distinct, in config order
}

// compile validates cfg and fills defaults.
func compile(cfg Config) (*compiled, error) {
	if cfg.LeaseTime <= 0 {
		cfg.LeaseTime = DefaultLeaseTime
	}
	if cfg.DeclineHold <= 0 {
		cfg.DeclineHold = DefaultDeclineHold
	}
	if cfg.Port == 0 {
		cfg.Port = DefaultPort
	}
	if cfg.ReplyBurst <= 0 {
		cfg.ReplyBurst = DefaultReplyBurst
	}
	if cfg.ReplyInterval <= 0 {
		cfg.ReplyInterval = DefaultReplyInterval
	}
	if cfg.Port < 1 || cfg.Port > 65534 {
		return nil, fmt.Errorf("dhcp: config: port %d out of range 1-65534", cfg.Port)
	}
	c := &compiled{cfg: cfg, byName: map[string]*network{}, byIface: map[string]*network{}}
	var errs []error
	for i := range cfg.Networks {
		n, err := compileNetwork(cfg.Networks[i])
		if err != nil {
			errs = append(errs, fmt.Errorf("dhcp: config: network %q: %w", cfg.Networks[i].Name, err))
			continue
		}
		if c.byName[n.Name] != nil {
			errs = append(errs, fmt.Errorf("dhcp: config: network %q is listed twice", n.Name))
			continue
		}
		for _, o := range c.networks {
			if o.Subnet.Overlaps(n.Subnet) {
				errs = append(errs, fmt.Errorf("dhcp: config: network %q: subnet %s overlaps %s of %q", n.Name, n.Subnet, o.Subnet, o.Name))
			}
		}
		if n.Interface != "" {
			if o := c.byIface[n.Interface]; o != nil {
				errs = append(errs, fmt.Errorf("dhcp: config: network %q: interface %s already serves %q", n.Name, n.Interface, o.Name))
				continue
			}
			c.byIface[n.Interface] = n
			c.interfaces = append(c.interfaces, n.Interface)
		}
		c.byName[n.Name] = n
		c.networks = append(c.networks, n)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

func compileNetwork(in Network) (*network, error) {
	n := &network{Network: in, byMAC: map[string]Reservation{}, byIP: map[netip.Addr]string{}}
	if in.Name == "" || strings.ContainsRune(in.Name, 0) {
		return nil, errors.New("needs a name")
	}
	if !in.Subnet.IsValid() || !in.Subnet.Addr().Is4() || in.Subnet.Bits() > 30 {
		return nil, fmt.Errorf("subnet %s: want an IPv4 prefix of /30 or shorter", in.Subnet)
	}
	n.Subnet = in.Subnet.Masked()
	n.mask = net.CIDRMask(n.Subnet.Bits(), 32)
	n.broadcast = lastAddr(n.Subnet)
	inSubnet := func(what string, a netip.Addr) error {
		if !a.Is4() || !n.Subnet.Contains(a) || a == n.Subnet.Addr() || a == n.broadcast {
			return fmt.Errorf("%s %s is not a host address in %s", what, a, n.Subnet)
		}
		return nil
	}
	if err := inSubnet("server address", in.ServerIP); err != nil {
		return nil, err
	}
	if in.Router.IsValid() {
		if err := inSubnet("router", in.Router); err != nil {
			return nil, err
		}
	}
	if in.Pool[0].IsValid() || in.Pool[1].IsValid() {
		for _, a := range in.Pool {
			if err := inSubnet("pool address", a); err != nil {
				return nil, err
			}
		}
		if in.Pool[1].Less(in.Pool[0]) {
			return nil, fmt.Errorf("pool %s-%s: start after end", in.Pool[0], in.Pool[1])
		}
		n.hasPool = true
		n.poolSize = int(u32(in.Pool[1])-u32(in.Pool[0])) + 1
	}
	if in.MTU != 0 && (in.MTU < 68 || in.MTU > 65535) {
		return nil, fmt.Errorf("mtu %d out of range 68-65535", in.MTU)
	}
	n.dns = in.DNSServers
	if len(n.dns) == 0 {
		n.dns = []netip.Addr{in.ServerIP}
	}
	for _, a := range append(append([]netip.Addr{}, n.dns...), in.NTPServers...) {
		if !a.Is4() {
			return nil, fmt.Errorf("server address %s is not IPv4", a)
		}
	}
	if in.Domain != "" {
		n.Domain = strings.TrimSuffix(in.Domain, ".")
		n.search = []string{n.Domain}
	}
	for _, r := range in.Reservations {
		if len(r.MAC) != 6 {
			return nil, fmt.Errorf("reservation %s: want a 6-byte Ethernet MAC", r.MAC)
		}
		mac := r.MAC.String()
		if err := inSubnet("reservation "+mac, r.IP); err != nil {
			return nil, err
		}
		if r.IP == in.ServerIP {
			return nil, fmt.Errorf("reservation %s: %s is the server's own address", mac, r.IP)
		}
		if _, dup := n.byMAC[mac]; dup {
			return nil, fmt.Errorf("reservation %s: MAC reserved twice", mac)
		}
		if other, dup := n.byIP[r.IP]; dup {
			return nil, fmt.Errorf("reservation %s: %s is already reserved for %s", mac, r.IP, other)
		}
		n.byMAC[mac] = r
		n.byIP[r.IP] = mac
	}
	if b := in.Boot; b != nil {
		if b.TFTPServer.IsValid() && !b.TFTPServer.Is4() {
			return nil, fmt.Errorf("boot: tftp server %s is not IPv4", b.TFTPServer)
		}
		if !b.TFTPServer.IsValid() {
			bb := *b
			bb.TFTPServer = in.ServerIP
			n.Boot = &bb
		}
	}
	return n, nil
}

// inPool reports whether a is in the network's pool.
func (n *network) inPool(a netip.Addr) bool {
	return n.hasPool && a.Is4() && !a.Less(n.Pool[0]) && !n.Pool[1].Less(a)
}

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func addrFrom32(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func lastAddr(p netip.Prefix) netip.Addr {
	return addrFrom32(u32(p.Addr()) | (1<<(32-p.Bits()) - 1))
}

// addrOf converts a net.IP (nil, 4- or 16-byte) to an IPv4 netip.Addr;
// invalid when it is not IPv4 or is 0.0.0.0.
func addrOf(ip net.IP) netip.Addr {
	v4 := ip.To4()
	if v4 == nil {
		return netip.Addr{}
	}
	a := netip.AddrFrom4([4]byte(v4))
	if a.IsUnspecified() {
		return netip.Addr{}
	}
	return a
}
