package labsim

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/cn2-appliance/cn2-appliance/pkg/config"
)

// NewWorkers makes n workers to add to lab (day-2), modelled on its last worker: names
// worker-<k> not taken yet, MACs one above the highest of each NIC's (locally administered
// prefix kept), and on each of its networks the next free address above the nodes' that is
// none of the appliance's, the gateway's, the VIPs' or the DHCP pool's. Nothing in lab changes.
func NewWorkers(lab *config.Lab, n int) ([]config.Node, error) {
	var tmpl *config.Node
	for i := range lab.Nodes {
		if lab.Nodes[i].Role == config.RoleWorker {
			tmpl = &lab.Nodes[i]
		}
	}
	if tmpl == nil {
		return nil, errors.New("labsim: the lab has no worker to model new ones on")
	}
	names, macs, ips := map[string]bool{}, map[string]bool{}, map[netip.Addr]bool{
		lab.Cluster.APIVIP: true, lab.Cluster.IngressVIP: true,
	}
	for _, nw := range lab.Networks {
		ips[nw.Address], ips[nw.Gateway] = true, true
	}
	for _, node := range lab.Nodes {
		names[node.Name] = true
		for _, nic := range node.NICs {
			macs[strings.ToLower(string(nic.MAC))], ips[nic.IP] = true, true
		}
	}
	var out []config.Node
	k := 0
	for range n {
		for names[fmt.Sprintf("worker-%d", k)] {
			k++
		}
		w := *tmpl
		w.Name = fmt.Sprintf("worker-%d", k)
		names[w.Name] = true
		w.Labels = nil
		if w.BMC.Driver == "libvirt" {
			w.BMC.Domain = w.Name
		}
		w.NICs = nil
		for _, nic := range tmpl.NICs {
			mac, err := nextMAC(nic.MAC, macs)
			if err != nil {
				return nil, err
			}
			nw := lab.Network(nic.Network)
			if nw == nil {
				return nil, fmt.Errorf("labsim: %s's NIC is on unknown network %s", tmpl.Name, nic.Network)
			}
			ip := nic.IP
			for ips[ip] || nw.Pool.Contains(ip) {
				ip = ip.Next()
			}
			if !nw.CIDR.Contains(ip) {
				return nil, fmt.Errorf("labsim: network %s has no free address for %s", nw.Name, w.Name)
			}
			ips[ip] = true
			w.NICs = append(w.NICs, config.NIC{Network: nic.Network, MAC: mac, IP: ip})
		}
		out = append(out, w)
	}
	return out, nil
}

// nextMAC is the first MAC above from, in its last octet, that used does not hold; it is added.
func nextMAC(from config.MAC, used map[string]bool) (config.MAC, error) {
	hw, err := net.ParseMAC(string(from))
	if err != nil {
		return "", err
	}
	for hw[len(hw)-1] < 0xff {
		hw[len(hw)-1]++
		if s := hw.String(); !used[s] {
			used[s] = true
			return config.MAC(s), nil
		}
	}
	return "", fmt.Errorf("labsim: no free MAC after %s", from)
}
