package rehearsal

import (
	"fmt"
	"slices"

	"github.com/cn2-appliance/cn2-appliance/internal/labsim"
	"github.com/cn2-appliance/cn2-appliance/pkg/bmc"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
)

// BootMethods are the values of Options.Boot (rehearse --boot).
var BootMethods = []string{config.BootPXE, config.BootVirtualMedia, config.BootUEFIHTTP}

// BootReport is how one node booted and how its BMC was left: the boot method the rehearsal
// gave it, its next boot device and attached ISO after the run, its virtual CD's inserts and
// ejects, the Range requests its firmware read the ISO with, and its UEFI HTTP boots.
type BootReport struct {
	Node, Method              string
	Device                    bmc.BootDevice
	Media                     string
	MediaInserts, MediaEjects int
	ISORanges, HTTPBoots      int
	DiscoveryBoots            int
}

// bootBy gives every node of lab the boot method, where its lab BMC driver can boot it that
// way (config.DriverBoots, as validate decides: an IPMI node never boots by virtual media);
// the others boot by PXE, and kept says which and why.
func bootBy(lab *config.Lab, method string) (kept []string) {
	lab.Boot.Method = method
	for i := range lab.Nodes {
		n := &lab.Nodes[i]
		n.BootMethod = method
		if !config.DriverBoots(n.BMC.Driver, method) {
			n.BootMethod = config.BootPXE
			kept = append(kept, fmt.Sprintf("%s (its %s BMC cannot boot it by %s)", n.Name, n.BMC.Driver, method))
		}
	}
	return kept
}

func bootReports(lab *config.Lab, nodes map[string]*labsim.NetNode) []BootReport {
	var out []BootReport
	for _, n := range lab.Nodes {
		sim := nodes[n.Name]
		c := sim.Counts()
		out = append(out, BootReport{Node: n.Name, Method: n.BootMethod, Device: sim.BootDevice(), Media: sim.Media(),
			MediaInserts: c.MediaInserts, MediaEjects: c.MediaEjects, ISORanges: c.ISORanges, HTTPBoots: c.HTTPBoots,
			DiscoveryBoots: c.DiscoveryBoots})
	}
	return out
}

// checkBoots lists what keeps an install from passing in how its nodes booted: each node's
// discovery boots went the way of its boot method (its virtual CD read by Range requests, or
// UEFI HTTP boot), and each installed node is left booting from disk with no ISO attached.
func checkBoots(reports []BootReport, installed bool) []string {
	var out []string
	for _, b := range reports {
		if !installed || b.DiscoveryBoots == 0 {
			continue
		}
		if b.Device != bmc.BootDisk || b.Media != "" {
			out = append(out, fmt.Sprintf("%s: after the install its BMC boots it from %q with %q attached, want the disk and no ISO", b.Node, b.Device, b.Media))
		}
		cd := b.Method == config.BootVirtualMedia
		switch {
		case cd && (b.MediaInserts == 0 || b.MediaEjects == 0):
			out = append(out, fmt.Sprintf("%s boots by virtual media: its ISO was inserted %d and ejected %d time(s)", b.Node, b.MediaInserts, b.MediaEjects))
		case cd && b.ISORanges < 3*b.DiscoveryBoots:
			out = append(out, fmt.Sprintf("%s booted %d time(s) from its virtual CD with %d Range request(s) for the ISO", b.Node, b.DiscoveryBoots, b.ISORanges))
		case !cd && (b.MediaInserts > 0 || b.ISORanges > 0):
			out = append(out, fmt.Sprintf("%s boots by %s, but its virtual CD was inserted %d time(s) and read %d time(s)", b.Node, b.Method, b.MediaInserts, b.ISORanges))
		}
		if wantHTTP := map[bool]int{true: b.DiscoveryBoots}[b.Method == config.BootUEFIHTTP]; b.HTTPBoots != wantHTTP {
			out = append(out, fmt.Sprintf("%s boots by %s and booted the discovery image %d time(s), %d of them by UEFI HTTP boot", b.Node, b.Method, b.DiscoveryBoots, b.HTTPBoots))
		}
	}
	return out
}

func validBoot(method string) error {
	if method == "" || slices.Contains(BootMethods, method) {
		return nil
	}
	return fmt.Errorf("boot method %q: want pxe, virtual-media or uefi-http", method)
}
