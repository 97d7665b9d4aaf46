package aisim

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
)

type validationResult struct {
	text    string // validations_info JSON text
	ok      bool
	failing []string
}

type check struct {
	category, id string
	ok           bool
	failMsg      string
	okMsg        string
}

func render(checks []check) validationResult {
	m := map[string][]ai.Validation{}
	res := validationResult{ok: true}
	for _, c := range checks {
		v := ai.Validation{ID: c.id, Status: "success", Message: c.okMsg}
		if !c.ok {
			v.Status, v.Message = "failure", c.failMsg
			res.ok = false
			res.failing = append(res.failing, c.failMsg)
		}
		m[c.category] = append(m[c.category], v)
	}
	b, _ := json.Marshal(m)
	res.text = string(b)
	return res
}

// hostNames counts the hosts of a cluster by name, so each host's uniqueness check is one look-up.
func hostNames(all []*host) map[string]int {
	out := make(map[string]int, len(all))
	for _, h := range all {
		out[h.name()]++
	}
	return out
}

// validationKey is what a host's validations depend on: its name and how many hosts share
// it, its role, the cluster's control-plane size, and its disk choices. A host whose key is
// unchanged keeps its rendered validations.
func (s *Sim) validationKey(h *host, names map[string]int) string {
	name := h.name()
	return fmt.Sprint(name, "|", names[name], "|", h.h.Role, "|", h.h.SuggestedRole, "|", s.controlPlaneOf(h), "|",
		h.h.InstallationDiskID, "|", h.h.SkipFormattingDisks)
}

// hostValidations checks what the simulator models of a host: a valid, unique hostname
// (names: hostNames of the host's cluster), and its hardware for its role (hardware.go).
func hostValidations(h *host, names map[string]int) validationResult {
	name := h.name()
	unique := names[name] <= 1
	valid := name != "" && name != "localhost" && !strings.ContainsAny(name, " _/")
	return render(append([]check{
		{"hardware", "has-inventory", true, "", "Valid inventory exists for the host"},
		{"network", "hostname-valid", valid, "Hostname " + name + " is forbidden", "Hostname " + name + " is allowed"},
		{"network", "hostname-unique", unique, "Hostname " + name + " is not unique in cluster", "Hostname " + name + " is unique in cluster"},
	}, hardwareChecks(h)...))
}

// validateCluster sets a pre-install cluster's validations and its insufficient/ready status.
func (s *Sim) validateCluster(cl *cluster, hosts []*host) {
	masters, autos, known := 0, 0, 0
	for _, h := range hosts {
		switch h.h.Role {
		case ai.RoleMaster:
			masters++
		case ai.RoleAutoAssign:
			autos++
		}
		if h.h.Status == "known" {
			known++
		}
	}
	need := cl.controlPlaneCount
	machine := prefixes(cl.c.MachineNetworks)
	apiOK, apiIn := vipsState(cl.c.APIVIPs, machine)
	ingOK, ingIn := vipsState(cl.c.IngressVIPs, machine)
	res := render([]check{
		{"network", "machine-cidr-defined", len(machine) > 0, "The Machine Network CIDR is undefined", "The Machine Network CIDR is defined"},
		{"network", "api-vips-defined", apiOK, "API virtual IPs are undefined and must be provided", "API virtual IPs are defined"},
		{"network", "api-vips-valid", !apiOK || apiIn, "api vips do not belong to the machine network", "api vips belong to the machine network"},
		{"network", "ingress-vips-defined", ingOK, "Ingress virtual IPs are undefined and must be provided", "Ingress virtual IPs are defined"},
		{"network", "ingress-vips-valid", !ingOK || ingIn, "ingress vips do not belong to the machine network", "ingress vips belong to the machine network"},
		{"hosts-data", "sufficient-masters-count", masters+autos >= need && masters <= need,
			"The cluster must have exactly " + itoa(need) + " dedicated control plane nodes", "The cluster has the exact amount of dedicated control plane nodes"},
		{"hosts-data", "all-hosts-are-ready-to-install", len(hosts) > 0 && known == len(hosts),
			"The cluster has hosts that are not ready to install", "All hosts in the cluster are ready to install"},
		{"configuration", "pull-secret-set", cl.pullSecret != "", "The pull secret is not set", "The pull secret is set"},
		{"configuration", "dns-domain-defined", cl.c.BaseDNSDomain != "", "The base domain is undefined and must be provided", "The base domain is defined"},
	})
	cl.validations = res.text
	if res.ok {
		s.setClusterStatus(cl, ai.ClusterReady, "Cluster ready to be installed", s.now())
	} else {
		s.setClusterStatus(cl, ai.ClusterInsufficient, "Cluster is not ready for install", s.now())
	}
	cl.c.StatusInfo = map[bool]string{true: "Cluster ready to be installed", false: "Cluster is not ready for install"}[res.ok]
}

func prefixes(nets []ai.Network) []netip.Prefix {
	var out []netip.Prefix
	for _, n := range nets {
		if p, err := netip.ParsePrefix(n.CIDR); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// vipsState: defined (at least one, all parse) and inside a machine network.
func vipsState(vips []ai.VIP, machine []netip.Prefix) (defined, inside bool) {
	if len(vips) == 0 {
		return false, false
	}
	inside = true
	for _, v := range vips {
		a, err := netip.ParseAddr(v.IP)
		if err != nil {
			return false, false
		}
		in := false
		for _, p := range machine {
			if p.Contains(a) {
				in = true
			}
		}
		inside = inside && in
	}
	return true, inside
}
