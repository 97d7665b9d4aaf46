package config

import (
	"fmt"
	"regexp"
	"strings"
)

// InstallDisk names the disk a node's image goes to, by exactly one of:
//
//	installDisk: { byPath: /dev/disk/by-path/pci-0000:00:05.0-scsi-0:0:0:0 }
//	installDisk: { byID: /dev/disk/by-id/wwn-0x5000c500a1b2c3d4 }
//	installDisk: { serial: S3Z9NB0K123456 }
//	installDisk: { rule: smallest, minSizeGB: 120 }   # or largest
//
// A rule picks among the disks the installer finds eligible (not the installation media, not
// removable, big enough for the role) those of at least minSizeGB (10^9 bytes).
type InstallDisk struct {
	ByPath    string `yaml:"byPath" json:"byPath,omitempty"`
	ByID      string `yaml:"byID" json:"byID,omitempty"`
	Serial    string `yaml:"serial" json:"serial,omitempty"`
	Rule      string `yaml:"rule" json:"rule,omitempty"`
	MinSizeGB int    `yaml:"minSizeGB" json:"minSizeGB,omitempty"`
}

// Install disk rules.
const (
	DiskSmallest = "smallest"
	DiskLargest  = "largest"
)

// String is the selector as the lab file says it, e.g. `byPath /dev/disk/by-path/...` or
// `smallest eligible disk of at least 120 GB`.
func (d InstallDisk) String() string {
	switch {
	case d.ByPath != "":
		return "byPath " + d.ByPath
	case d.ByID != "":
		return "byID " + d.ByID
	case d.Serial != "":
		return "serial " + d.Serial
	case d.MinSizeGB > 0:
		return fmt.Sprintf("%s eligible disk of at least %d GB", d.Rule, d.MinSizeGB)
	default:
		return d.Rule + " eligible disk"
	}
}

func (v *validator) installDisk(p string, n Node) {
	d := n.InstallDisk
	if d == nil {
		return
	}
	p += ".installDisk"
	var given []string
	for _, f := range []struct {
		key string
		set bool
	}{{"byPath", d.ByPath != ""}, {"byID", d.ByID != ""}, {"serial", d.Serial != ""}, {"rule", d.Rule != ""}} {
		if f.set {
			given = append(given, f.key)
		}
	}
	switch len(given) {
	case 0:
		v.ps.errorf(p, "name the disk by one of byPath, byID, serial, or give rule: smallest or largest (with minSizeGB)")
		return
	case 1:
	default:
		v.ps.errorf(p, "give one of %s, not %d; one disk is named one way", strings.Join(given, ", "), len(given))
		return
	}
	switch {
	case d.ByPath != "" && !strings.HasPrefix(d.ByPath, "/dev/disk/by-path/"):
		v.ps.errorf(p+".byPath", "%q is not a by-path name; want /dev/disk/by-path/... as `ls -l /dev/disk/by-path` on the node shows it (the installer's inventory lists it too)", d.ByPath)
	case d.ByID != "" && !strings.HasPrefix(d.ByID, "/dev/disk/by-id/"):
		v.ps.errorf(p+".byID", "%q is not a by-id name; want /dev/disk/by-id/... (wwn-... is stable across reboots and controllers)", d.ByID)
	case d.Serial != "" && strings.ContainsAny(d.Serial, " \t/"):
		v.ps.errorf(p+".serial", "%q is not a disk serial number; give it as `lsblk -o NAME,SERIAL` shows it", d.Serial)
	case d.Rule != "":
		v.oneOf(p+".rule", d.Rule, DiskSmallest, DiskLargest)
	}
	if d.MinSizeGB != 0 && d.Rule == "" {
		v.ps.errorf(p+".minSizeGB", "only a rule (smallest, largest) takes a minimum size; a disk named by path, id or serial is that disk")
	} else if d.MinSizeGB < 0 || d.MinSizeGB > 1<<20 {
		v.ps.errorf(p+".minSizeGB", "%d is out of range; want a size in GB (10^9 bytes), e.g. 120", d.MinSizeGB)
	}
}

// defaultRoute: the installer blocks every host on has-default-route when none of its NICs
// has one, so a lab with no gateway cannot install unless it says so; two gateways give the
// nodes two default routes where the install expects one.
func (v *validator) defaultRoute() {
	var with []int
	for i, n := range v.lab.Networks {
		if n.Gateway.IsValid() {
			with = append(with, i)
		}
	}
	switch {
	case len(v.lab.Networks) == 0:
	case len(with) == 0 && !v.lab.AllowNoDefaultRoute:
		v.ps.errorf("networks", "no network sets gateway, so no node gets a default route and the installer holds every host on has-default-route; give the machine network its router (gateway: ...), or set allowNoDefaultRoute: true for a fabric that really has none")
	case len(with) > 1:
		var names []string
		for _, i := range with {
			names = append(names, fmt.Sprintf("%s (%s)", v.lab.Networks[i].Name, v.lab.Networks[i].Gateway))
		}
		v.ps.warnf(fmt.Sprintf("networks[%d].gateway", with[1]), "gateway is set on %s: the nodes get a default route on each, and which one wins is up to the kernel; keep gateway on the machine network only", strings.Join(names, " and "))
	}
}

// kernelArgRE is the spec's kernel_argument value pattern.
var kernelArgRE = regexp.MustCompile(`^(?:(?:[^ \t\n\r"]+)|(?:"[^"]*"))+$`)

func (v *validator) discoveryAccess() {
	for i, a := range v.lab.Cluster.DiscoveryKernelArguments {
		if !kernelArgRE.MatchString(a) {
			v.ps.errorf(fmt.Sprintf("cluster.discoveryKernelArguments[%d]", i), "%q is not one kernel argument; want parameter or parameter=value without spaces (quote a value that has them), one per list item", a)
		}
	}
}

// cryptHashRE accepts the crypt(3) hashes RHCOS's shadow understands: yescrypt, SHA-512,
// SHA-256 and bcrypt.
var cryptHashRE = regexp.MustCompile(`^\$(y|6|5|2[aby])\$[./A-Za-z0-9$=,]+$`)

// loadDiscoveryPassword reads the core user's password hash; neither errors nor warnings
// quote it.
func loadDiscoveryPassword(ps *problems, c *Cluster, abs func(*string)) {
	if c.DiscoveryPasswordFile == "" {
		return
	}
	abs(&c.DiscoveryPasswordFile)
	s, ok := readSecret(ps, "cluster.discoveryPassword", c.DiscoveryPasswordFile, "")
	if !ok {
		return
	}
	if !cryptHashRE.Match(s) {
		ps.errorf("cluster.discoveryPasswordFile", "%s does not hold a password hash; put the output of `mkpasswd --method=yescrypt` (or --method=sha-512) there, never the password itself", c.DiscoveryPasswordFile)
		return
	}
	c.DiscoveryPasswordHash = NewSecret(s)
}
