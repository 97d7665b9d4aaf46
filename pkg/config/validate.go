package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

var (
	dnsLabelRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	versionRE  = regexp.MustCompile(`^[0-9]+\.[0-9]+(\.[0-9]+)?$`)
)

// Node names that would collide with the lab zone's own records.
var reservedNames = map[string]bool{"api": true, "api-int": true, "apps": true, "ns": true, "ingress": true}

// validator checks a decoded lab; each check reports through ps and carries on.
type validator struct {
	ps  *problems
	lab *Lab
}

func validate(ps *problems, l *Lab) {
	v := validator{ps: ps, lab: l}
	v.networks()
	v.cluster()
	v.assistedInstaller()
	v.services()
	v.proxy()
	v.nodes()
	v.defaultRoute()
	v.discoveryAccess()
}

// required reports a missing key; a key that is present but failed to decode has its own error.
func (v *validator) required(path string, isSet bool, what string) bool {
	if isSet {
		return true
	}
	if _, present := v.ps.pos[path]; !present {
		v.ps.errorf(path, "missing; %s", what)
	}
	return false
}

func (v *validator) oneOf(path, value string, valid ...string) {
	for _, ok := range valid {
		if value == ok {
			return
		}
	}
	v.ps.errorf(path, "%q is not valid; want one of: %s", value, strings.Join(valid, ", "))
}

func (v *validator) networks() {
	l := v.lab
	if !v.required("networks", len(l.Networks) > 0, "declare at least the machine network, e.g. {name: ctrl, interface: ens4, cidr: 172.16.0.0/24, address: 172.16.0.1}") {
		return
	}
	names, ifaces := map[string]bool{}, map[string]bool{}
	for i, n := range l.Networks {
		p := fmt.Sprintf("networks[%d]", i)
		if v.required(p+".name", n.Name != "", "give the network a short name, e.g. ctrl") {
			if !dnsLabelRE.MatchString(n.Name) {
				v.ps.errorf(p+".name", "%q is not a DNS label; use lower-case letters, digits and dashes", n.Name)
			} else if names[n.Name] {
				v.ps.errorf(p+".name", "network %q is declared twice", n.Name)
			}
			names[n.Name] = true
		}
		if v.required(p+".interface", n.Interface != "", "name the jump host's interface on this network, e.g. ens4") {
			if ifaces[n.Interface] {
				v.ps.errorf(p+".interface", "interface %q is used by two networks", n.Interface)
			}
			ifaces[n.Interface] = true
		}
		if !v.required(p+".cidr", n.CIDR.IsValid(), "give the network's prefix, e.g. 172.16.0.0/24") {
			continue
		}
		if !n.CIDR.Addr().Is4() {
			v.ps.errorf(p+".cidr", "%s is not IPv4; lab networks are IPv4", n.CIDR)
			continue
		}
		if n.CIDR != n.CIDR.Masked() {
			v.ps.errorf(p+".cidr", "%s has host bits set; did you mean %s?", n.CIDR, n.CIDR.Masked())
			continue
		}
		for j := range i {
			if o := l.Networks[j]; o.CIDR.IsValid() && o.CIDR.Overlaps(n.CIDR) {
				v.ps.errorf(p+".cidr", "%s overlaps network %q (%s)", n.CIDR, o.Name, o.CIDR)
			}
		}
		if v.required(p+".address", n.Address.IsValid(), "give the appliance's own address on this network, e.g. 172.16.0.1") {
			v.hostAddress(p+".address", n.Address, n.CIDR)
		}
		if n.Gateway.IsValid() {
			v.hostAddress(p+".gateway", n.Gateway, n.CIDR)
			if n.Gateway == n.Address {
				v.ps.errorf(p+".gateway", "%s is the appliance's own address; leave gateway out if the network has no router", n.Gateway)
			}
		}
		if n.Pool.IsSet() {
			if !n.CIDR.Contains(n.Pool.First) || !n.CIDR.Contains(n.Pool.Last) {
				v.ps.errorf(p+".pool", "%s-%s is not inside %s", n.Pool.First, n.Pool.Last, n.CIDR)
			}
			for _, a := range []netip.Addr{n.Address, n.Gateway} {
				if n.Pool.Contains(a) {
					v.ps.errorf(p+".pool", "%s-%s contains %s, the appliance's or the gateway's address", n.Pool.First, n.Pool.Last, a)
				}
			}
		}
		if n.MTU != 0 && (n.MTU < 576 || n.MTU > 9216) {
			v.ps.errorf(p+".mtu", "%d is out of range; want 576 to 9216", n.MTU)
		}
	}
}

// hostAddress checks that a is a usable host address inside prefix.
func (v *validator) hostAddress(path string, a netip.Addr, prefix netip.Prefix) bool {
	switch {
	case !prefix.Contains(a):
		v.ps.errorf(path, "%s is not inside %s", a, prefix)
	case a == prefix.Addr() && prefix.Bits() < 31:
		v.ps.errorf(path, "%s is the network address of %s", a, prefix)
	case a == lastAddr(prefix) && prefix.Bits() < 31:
		v.ps.errorf(path, "%s is the broadcast address of %s", a, prefix)
	default:
		return true
	}
	return false
}

func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	n := be32(a[:]) | host
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}

func (v *validator) cluster() {
	c := &v.lab.Cluster
	if v.required("cluster.name", c.Name != "", "give the cluster a name, e.g. mycluster") &&
		(!dnsLabelRE.MatchString(c.Name) || len(c.Name) > 54) {
		v.ps.errorf("cluster.name", "%q is not valid; want a lower-case DNS label (letters, digits, dashes) of at most 54 characters", c.Name)
	}
	if v.required("cluster.baseDomain", c.BaseDomain != "", "give the base DNS domain, e.g. contrail.lan") && !validDomain(c.BaseDomain) {
		v.ps.errorf("cluster.baseDomain", "%q is not a valid domain; want lower-case DNS labels separated by dots, like contrail.lan", c.BaseDomain)
	}
	if v.required("cluster.openshiftVersion", c.OpenshiftVersion != "", `give the OpenShift version, e.g. "4.14"`) && !versionRE.MatchString(c.OpenshiftVersion) {
		v.ps.errorf("cluster.openshiftVersion", "%q is not valid; want x.y or x.y.z, like \"4.14\" (quote it so YAML keeps it a string)", c.OpenshiftVersion)
	}
	v.clusterNetworks()
	v.vips()
	v.required("cluster.sshPublicKeyFile", c.SSHPublicKeyFile != "", "name the file holding the SSH public key for the nodes' core user")
	switch {
	case c.PullSecretFile != "" && c.PullSecretEnv != "":
		v.ps.errorf("cluster.pullSecret", "give pullSecretFile or pullSecret, not both")
	case c.PullSecretFile == "" && c.PullSecretEnv == "":
		v.required("cluster.pullSecretFile", false, "name the file holding the pull secret from console.redhat.com (or set pullSecret: ${ENV_VAR})")
	}
	v.required("cluster.manifestsDir", c.ManifestsDir != "", "name the folder holding the CN2 manifests")
	if networking, ok := c.InstallConfigOverrides["networking"].(map[string]any); ok {
		if nt, set := networking["networkType"]; set && nt != "Contrail" {
			v.ps.errorf("cluster.installConfigOverrides.networking.networkType", "%v is not allowed: this appliance installs CN2, networkType Contrail; leave the key out", nt)
		}
	}
}

func validDomain(d string) bool {
	if len(d) > 253 {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if !dnsLabelRE.MatchString(label) {
			return false
		}
	}
	return true
}

func (v *validator) clusterNetworks() {
	c := &v.lab.Cluster
	type named struct {
		path   string
		prefix netip.Prefix
	}
	pods, svcs := named{"cluster.clusterNetwork", c.ClusterNetwork}, named{"cluster.serviceNetwork", c.ServiceNetwork}
	for _, n := range []named{pods, svcs} {
		if !n.prefix.Addr().Is4() || n.prefix != n.prefix.Masked() {
			v.ps.errorf(n.path, "%s is not a masked IPv4 prefix (did you mean %s?)", n.prefix, n.prefix.Masked())
			continue
		}
		for _, lab := range v.lab.Networks {
			if lab.CIDR.IsValid() && lab.CIDR.Overlaps(n.prefix) {
				v.ps.errorf(n.path, "%s overlaps lab network %q (%s); pod and service networks must be private to the cluster", n.prefix, lab.Name, lab.CIDR)
			}
		}
	}
	if pods.prefix.Overlaps(svcs.prefix) {
		v.ps.errorf(svcs.path, "%s overlaps the cluster network %s", svcs.prefix, pods.prefix)
	}
	if c.HostPrefix <= pods.prefix.Bits() || c.HostPrefix > 30 {
		v.ps.errorf("cluster.hostPrefix", "%d is not valid for cluster network %s; want a prefix length from %d to 30", c.HostPrefix, pods.prefix, pods.prefix.Bits()+1)
	}
	if !v.required("cluster.machineNetwork", c.MachineNetwork.IsValid(), "give the lab network that carries the API and installer traffic, e.g. 172.16.0.0/24") {
		return
	}
	if v.lab.MachineNetwork() == nil {
		var cidrs []string
		for _, n := range v.lab.Networks {
			if !n.CIDR.IsValid() {
				return // that network has its own error; don't guess
			}
			cidrs = append(cidrs, n.CIDR.String())
		}
		v.ps.errorf("cluster.machineNetwork", "%s is not one of the lab networks; want one of: %s", c.MachineNetwork, strings.Join(cidrs, ", "))
	}
}

func (v *validator) vips() {
	c := &v.lab.Cluster
	mn := v.lab.MachineNetwork()
	for _, vip := range []struct {
		path string
		addr netip.Addr
	}{{"cluster.apiVIP", c.APIVIP}, {"cluster.ingressVIP", c.IngressVIP}} {
		if !v.required(vip.path, vip.addr.IsValid(), "give an unused address in the machine network, e.g. 172.16.0.100") || mn == nil {
			continue
		}
		if !v.hostAddress(vip.path, vip.addr, mn.CIDR) {
			continue
		}
		for _, n := range v.lab.Networks {
			if vip.addr == n.Address {
				v.ps.errorf(vip.path, "%s is the appliance's own address on %q", vip.addr, n.Name)
			}
			if vip.addr == n.Gateway {
				v.ps.errorf(vip.path, "%s is the gateway of %q", vip.addr, n.Name)
			}
			if n.Pool.Contains(vip.addr) {
				v.ps.errorf(vip.path, "%s is inside the DHCP pool of %q (%s-%s); a VIP must never be leased", vip.addr, n.Name, n.Pool.First, n.Pool.Last)
			}
		}
		for _, node := range v.lab.Nodes {
			for _, nic := range node.NICs {
				if nic.IP == vip.addr {
					v.ps.errorf(vip.path, "%s is the address of node %q", vip.addr, node.Name)
				}
			}
		}
	}
	if c.APIVIP.IsValid() && c.APIVIP == c.IngressVIP {
		v.ps.errorf("cluster.ingressVIP", "%s is also the API VIP; the two VIPs must differ", c.IngressVIP)
	}
}

func (v *validator) assistedInstaller() {
	ai := &v.lab.AssistedInstaller
	v.httpURL("assistedInstaller.url", ai.URL)
	v.httpURL("assistedInstaller.tokenURL", ai.TokenURL)
	v.oneOf("assistedInstaller.imageType", ai.ImageType, "full-iso", "minimal-iso")
	if ai.RemedyAttempts < 1 || ai.RemedyAttempts > 20 {
		v.ps.errorf("assistedInstaller.remedyAttempts", "%d is out of range; want 1 to 20 remedies before a node needs attention", ai.RemedyAttempts)
	}
	if ai.PowerParallelism < 1 || ai.PowerParallelism > 4096 {
		v.ps.errorf("assistedInstaller.powerParallelism", "%d is out of range; want 1 to 4096 BMC calls at once", ai.PowerParallelism)
	}
	if ai.Timeouts.NodeBoot.D() < time.Minute {
		v.ps.errorf("assistedInstaller.timeouts.nodeBoot", "%s is too short for a node to boot; want at least 1m", ai.Timeouts.NodeBoot.D())
	}
	if ai.Timeouts.Verify.D() < time.Minute {
		v.ps.errorf("assistedInstaller.timeouts.verify", "%s is too short for the cluster's operators and pods to settle; want at least 1m", ai.Timeouts.Verify.D())
	}
	if ai.OfflineTokenFile != "" && ai.OfflineTokenEnv != "" {
		v.ps.errorf("assistedInstaller.offlineToken", "give offlineTokenFile or offlineToken, not both")
	}
}

func (v *validator) httpURL(path, s string) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.ps.errorf(path, "%q is not an http(s) URL", s)
	}
}

func (v *validator) port(path string, p int) {
	if p < 1 || p > 65535 {
		v.ps.errorf(path, "%d is not a port; want 1 to 65535", p)
	}
}

func (v *validator) services() {
	l := v.lab
	v.port("dns.port", l.DNS.Port)
	if l.DNS.TTL < 1 || l.DNS.TTL > 604800 {
		v.ps.errorf("dns.ttl", "%d is out of range; want 1 to 604800 seconds", l.DNS.TTL)
	}
	if len(l.DNS.Forwarders) == 0 {
		v.ps.warnf("dns", "no forwarders: nodes will not resolve names outside the lab (api.openshift.com, quay.io, the Juniper registry), and the install needs them")
	}
	v.port("dhcp.port", l.DHCP.Port)
	if l.DHCP.LeaseTime.D().Minutes() < 1 {
		v.ps.errorf("dhcp.leaseTime", "%s is too short; want at least 1m", l.DHCP.LeaseTime.D())
	}
	v.oneOf("dhcp.unknownClients", l.DHCP.UnknownClients, UnknownClientsPool, UnknownClientsIgnore)
	v.ntp()
	v.oneOf("boot.method", l.Boot.Method, bootMethods...)
	v.port("boot.tftpPort", l.Boot.TFTPPort)
	v.port("boot.httpPort", l.Boot.HTTPPort)
	v.bootLimits()
	v.statusListen()
}

// bootLimits checks the TFTP/HTTP boot ACL and the HTTP connection limits.
func (v *validator) bootLimits() {
	b := v.lab.Boot
	for i, p := range b.AllowFrom {
		path := fmt.Sprintf("boot.allowFrom[%d]", i)
		switch {
		case !p.Addr().Is4():
			v.ps.errorf(path, "%s is not IPv4; the lab boots over IPv4", p)
		case p != p.Masked():
			v.ps.errorf(path, "%s has host bits set; did you mean %s?", p, p.Masked())
		case p.Bits() == 0:
			v.ps.errorf(path, "%s lets every address boot; list the networks of the relays or clients that need it", p)
		}
	}
	if d := b.HTTPIdleTimeout.D(); d < time.Second || d > MaxHTTPIdleTimeout.D() {
		v.ps.errorf("boot.httpIdleTimeout", "%s is out of range; want 1s to %s", d, MaxHTTPIdleTimeout.D())
	}
	if b.HTTPMaxConnections < 0 || b.HTTPMaxConnections > 1<<20 {
		v.ps.errorf("boot.httpMaxConnections", "%d is out of range; want 1 to 1048576, or leave it out to derive it from the descriptor limit", b.HTTPMaxConnections)
	}
	if b.HTTPMaxConnectionsPerClient < 1 || b.HTTPMaxConnectionsPerClient > 1<<20 {
		v.ps.errorf("boot.httpMaxConnectionsPerClient", "%d is out of range; want 1 to 1048576", b.HTTPMaxConnectionsPerClient)
	} else if b.HTTPMaxConnections > 0 && b.HTTPMaxConnectionsPerClient > b.HTTPMaxConnections {
		v.ps.errorf("boot.httpMaxConnectionsPerClient", "%d is above boot.httpMaxConnections (%d)", b.HTTPMaxConnectionsPerClient, b.HTTPMaxConnections)
	}
}

// statusListen: the status page, its JSON API and /metrics are open only on loopback unless
// a web config protects them.
func (v *validator) statusListen() {
	st := v.lab.Status
	if !st.Listen.Addr.IsLoopback() && st.WebConfigFile == "" {
		v.ps.errorf("status.listen", "%s is not a loopback address: the status page and /metrics would be open to the network; set status.webConfigFile to a Prometheus web config with TLS and/or basic auth, or listen on 127.0.0.1", st.Listen.Addr)
	}
}

// ntp checks the NTP server's keys and the NTP servers DHCP hands out: each an IPv4 address,
// the appliance's own only where it serves NTP, and on the network the nodes reach it on.
func (v *validator) ntp() {
	l := v.lab
	v.port("ntp.port", l.NTP.Port)
	serving := l.NTP.Serving()
	switch s := l.NTP.LocalStratum; {
	case s < 0 || s > 15:
		v.ps.errorf("ntp.localStratum", "%d is out of range; want 1 to 15 (16 means unsynchronised), or leave it out", s)
	case s > 0 && !serving:
		v.ps.errorf("ntp.localStratum", "the appliance does not serve NTP (ntp.serve is false); set ntp.serve: true, or leave localStratum out")
	}
	check := func(path string, a netip.Addr, handedOn []string, fix string) {
		if !a.IsValid() {
			return // not an address: decoding said so
		}
		if !a.Is4() {
			v.ps.errorf(path, "%s is not IPv4; DHCP hands out IPv4 NTP servers", a)
			return
		}
		own := l.ApplianceNetwork(a)
		if own == nil {
			return
		}
		if !serving {
			v.ps.errorf(path, "%s is the appliance's address on %q, but ntp.serve is false, so nothing answers NTP there; set ntp.serve: true, or name another server", a, own.Name)
		}
		for _, name := range handedOn {
			if name != own.Name {
				v.ps.warnf(path, "%s is the appliance's address on %q: nodes on %q reach it only through a router; %s", a, own.Name, name, fix)
			}
		}
	}
	var sharing []string // networks handed dhcp.ntpServers
	for _, n := range l.Networks {
		if len(n.NTPServers) == 0 {
			sharing = append(sharing, n.Name)
		}
	}
	for i, a := range l.DHCP.NTPServers {
		check(fmt.Sprintf("dhcp.ntpServers[%d]", i), a, sharing,
			"leave it out, and each network is handed the appliance's own address on it")
	}
	for i, n := range l.Networks {
		for j, a := range n.NTPServers {
			fix := "list the appliance's address on this network instead"
			if serving {
				fix = fmt.Sprintf("list %s, the appliance's address on %q, instead", n.Address, n.Name)
			}
			check(fmt.Sprintf("networks[%d].ntpServers[%d]", i, j), a, []string{n.Name}, fix)
		}
	}
}

func (v *validator) nodes() {
	l := v.lab
	if !v.required("nodes", len(l.Nodes) > 0, "declare the cluster's nodes: three control-plane nodes, and workers") {
		return
	}
	names := map[string]bool{}
	macs := map[MAC]string{}
	ips := map[netip.Addr]string{}
	controlPlane, workers := 0, 0
	for i, n := range l.Nodes {
		p := fmt.Sprintf("nodes[%d]", i)
		if v.required(p+".name", n.Name != "", "give the node a host name, e.g. master-0") {
			switch {
			case !dnsLabelRE.MatchString(n.Name):
				v.ps.errorf(p+".name", "%q is not a DNS label; use lower-case letters, digits and dashes", n.Name)
			case reservedNames[n.Name] || v.lab.Network(n.Name) != nil:
				v.ps.errorf(p+".name", "%q is reserved for the lab zone's own records (api, api-int, apps, ns, ingress and the network names)", n.Name)
			case names[n.Name]:
				v.ps.errorf(p+".name", "node %q is declared twice", n.Name)
			}
			names[n.Name] = true
		}
		if v.required(p+".role", n.Role != "", "give control-plane or worker") {
			v.oneOf(p+".role", n.Role, RoleControlPlane, RoleWorker)
		}
		switch n.Role {
		case RoleControlPlane:
			controlPlane++
			if n.DPDK {
				v.ps.errorf(p+".dpdk", "only workers run the DPDK vRouter; remove dpdk from this control-plane node")
			}
		case RoleWorker:
			workers++
		}
		v.nics(p, n, macs, ips)
		v.bmc(p+".bmc", n.BMC)
		v.bootMethod(p, n)
		v.installDisk(p, n)
	}
	if !(controlPlane == 3 || (controlPlane == 1 && workers == 0)) {
		v.ps.errorf("nodes", "found %d control-plane and %d worker nodes; a cluster needs three control-plane nodes, or exactly one and no workers (single-node OpenShift)", controlPlane, workers)
	}
}

var bootMethods = []string{BootPXE, BootVirtualMedia, BootUEFIHTTP}

// bootDrivers are, per boot method other than PXE, the BMC drivers that can boot a node that
// way: attach the discovery ISO as virtual media, or set a UEFI HTTP boot URI (a Redfish BMC
// that does not advertise it falls back to PXE at boot time).
var bootDrivers = map[string][]string{
	BootVirtualMedia: {DriverRedfish, DriverLibvirt},
	BootUEFIHTTP:     {DriverRedfish},
}

// bootCannot says what a BMC driver cannot do for a boot method.
var bootCannot = map[string]string{
	BootVirtualMedia: "cannot attach an ISO",
	BootUEFIHTTP:     "cannot set a UEFI HTTP boot URI",
}

// DriverBoots says whether a node whose BMC has driver can be booted by method (a boot.method
// value). Every driver can boot a node by PXE.
func DriverBoots(driver, method string) bool {
	if method == BootPXE {
		return true
	}
	return slices.Contains(bootDrivers[method], driver)
}

// bootMethod checks the node's boot method (boot.method unless the node sets its own) and
// that its BMC driver can boot it that way.
func (v *validator) bootMethod(p string, n Node) {
	path := p + ".bootMethod"
	if _, own := v.ps.pos[path]; !own {
		path = "boot.method"
	}
	if !slices.Contains(bootMethods, n.BootMethod) {
		if path != "boot.method" { // boot.method itself is checked once, in services
			v.oneOf(path, n.BootMethod, bootMethods...)
		}
		return
	}
	if n.BMC.Driver != "" && !DriverBoots(n.BMC.Driver, n.BootMethod) {
		v.ps.errorf(path, "node %s boots by %s, but its %s BMC %s; give it bootMethod: pxe, or a %s BMC",
			n.Name, n.BootMethod, n.BMC.Driver, bootCannot[n.BootMethod], strings.Join(bootDrivers[n.BootMethod], " or "))
	}
}

func (v *validator) nics(p string, n Node, macs map[MAC]string, ips map[netip.Addr]string) {
	if !v.required(p+".nics", len(n.NICs) > 0, "list the node's NICs, e.g. {network: ctrl, mac: 52:54:00:00:00:11, ip: 172.16.0.11}") {
		return
	}
	onMachine := false
	seenNet := map[string]bool{}
	for j, nic := range n.NICs {
		q := fmt.Sprintf("%s.nics[%d]", p, j)
		ln := v.lab.Network(nic.Network)
		if v.required(q+".network", nic.Network != "", "name the lab network this NIC is on") {
			if ln == nil {
				v.ps.errorf(q+".network", "%q is not a declared network; want one of: %s", nic.Network, strings.Join(v.lab.NetworkNames(), ", "))
			} else if seenNet[nic.Network] {
				v.ps.errorf(q+".network", "node %q has two NICs on %q; give one per network", n.Name, nic.Network)
			}
			seenNet[nic.Network] = true
		}
		if v.required(q+".mac", nic.MAC != "", "give the NIC's MAC address") {
			if other, dup := macs[nic.MAC]; dup {
				v.ps.errorf(q+".mac", "%s is already the MAC of a NIC of %s", nic.MAC, other)
			}
			macs[nic.MAC] = n.Name
		}
		if !v.required(q+".ip", nic.IP.IsValid(), "give the address DHCP reserves for this NIC") {
			continue
		}
		if other, dup := ips[nic.IP]; dup {
			v.ps.errorf(q+".ip", "%s is already the address of %s", nic.IP, other)
		}
		ips[nic.IP] = n.Name
		if ln == nil || !ln.CIDR.IsValid() {
			continue
		}
		if ln.CIDR == v.lab.Cluster.MachineNetwork {
			onMachine = true
		}
		if !v.hostAddress(q+".ip", nic.IP, ln.CIDR) {
			continue
		}
		switch {
		case nic.IP == ln.Address:
			v.ps.errorf(q+".ip", "%s is the appliance's own address on %q", nic.IP, ln.Name)
		case nic.IP == ln.Gateway:
			v.ps.errorf(q+".ip", "%s is the gateway of %q", nic.IP, ln.Name)
		case ln.Pool.Contains(nic.IP):
			v.ps.errorf(q+".ip", "%s is inside the DHCP pool of %q (%s-%s); reserved addresses must be outside it", nic.IP, ln.Name, ln.Pool.First, ln.Pool.Last)
		}
	}
	if !onMachine && v.lab.MachineNetwork() != nil {
		v.ps.errorf(p+".nics", "node %q has no NIC on the machine network %s", n.Name, v.lab.Cluster.MachineNetwork)
	}
}

func (v *validator) bmc(p string, b BMC) {
	if !v.required(p+".driver", b.Driver != "", "give redfish, ipmi or libvirt, and the fields that driver needs") {
		return
	}
	if t := b.Timeout.D(); t < time.Second || t > 5*time.Minute {
		v.ps.errorf(p+".timeout", "%s is out of range; want 1s to 5m for one try of a BMC call", t)
	}
	credentials := func() {
		if b.Username != "" && b.UsernameFile != "" {
			v.ps.errorf(p+".username", "give username or usernameFile, not both")
		} else {
			v.required(p+".username", b.Username != "" || b.UsernameFile != "", "give the BMC user (username, or usernameFile)")
		}
		_, passwordGiven := v.ps.pos[p+".password"]
		if b.PasswordFile != "" && b.PasswordEnv != "" {
			v.ps.errorf(p+".password", "give passwordFile or password, not both")
		} else if !passwordGiven {
			v.required(p+".passwordFile", b.PasswordFile != "" || b.PasswordEnv != "", "give the BMC password (passwordFile, or password: ${ENV_VAR})")
		}
	}
	type field struct {
		name string
		set  bool
	}
	unused := func(driver string, fields ...field) {
		for _, f := range fields {
			if f.set {
				v.ps.errorf(p+"."+f.name, "not used by the %s driver", driver)
			}
		}
	}
	switch b.Driver {
	case DriverRedfish:
		if v.required(p+".address", b.Address != "", "give the BMC's Redfish URL, e.g. https://10.0.0.11") {
			v.redfishAddress(p, b)
		}
		credentials()
		unused("redfish", field{"port", b.Port != 0}, field{"cipherSuite", b.CipherSuite != 0}, field{"uri", b.URI != ""}, field{"domain", b.Domain != ""})
	case DriverIPMI:
		if v.required(p+".address", b.Address != "", "give the BMC's host name or address") && strings.Contains(b.Address, "/") {
			v.ps.errorf(p+".address", "%q is not a host; give a host name or an IP address (the port goes in port)", b.Address)
		}
		v.port(p+".port", b.Port)
		if b.CipherSuite < 0 || b.CipherSuite > 17 {
			v.ps.errorf(p+".cipherSuite", "%d is not an IPMI cipher suite; want 0 to 17 (3 is the usual one)", b.CipherSuite)
		}
		credentials()
		unused("ipmi", field{"insecure", b.Insecure}, field{"systemID", b.SystemID != ""}, field{"uri", b.URI != ""}, field{"domain", b.Domain != ""})
	case DriverLibvirt:
		if v.required(p+".uri", b.URI != "", "give the libvirt URI, e.g. qemu:///system") {
			if u, err := url.Parse(b.URI); err != nil || u.Scheme == "" {
				v.ps.errorf(p+".uri", "%q is not a libvirt URI; want e.g. qemu:///system or qemu+ssh://host/system", b.URI)
			}
		}
		v.required(p+".domain", b.Domain != "", "give the libvirt domain's name or UUID")
		unused("libvirt", field{"address", b.Address != ""}, field{"port", b.Port != 0}, field{"username", b.Username != ""},
			field{"usernameFile", b.UsernameFile != ""}, field{"passwordFile", b.PasswordFile != ""}, field{"password", b.PasswordEnv != ""},
			field{"insecure", b.Insecure}, field{"systemID", b.SystemID != ""}, field{"cipherSuite", b.CipherSuite != 0})
	default:
		v.ps.errorf(p+".driver", "%q is not a driver; want one of: redfish, ipmi, libvirt", b.Driver)
	}
}
