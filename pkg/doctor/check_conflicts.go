package doctor

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/config"
)

// addressConflictsCheck ARP-probes every reserved node address, the API VIP and the ingress
// VIP on their fabric. Any answer is an error naming the address and the MAC that answered —
// a VIP already in use is the classic cause of a cluster that never comes up — except a node
// address answered from one of that node's own MACs: a node that is already up (the flow
// resumed past boot) holds its address legitimately. Skipped on loopback (no ARP on lo).
var addressConflictsCheck = Check{
	Name:    "address-conflicts",
	Needs:   "raw ARP socket on each lab interface (root or CAP_NET_RAW)",
	Timeout: 5 * time.Second,
	Run:     checkAddressConflicts,
}

// probeTarget is one address the lab reserves, and who may hold it.
type probeTarget struct {
	ip    netip.Addr
	what  string             // "API VIP", "master-0's address"
	owner []net.HardwareAddr // MACs allowed to answer (the node's own); nil for VIPs
	node  string
}

func checkAddressConflicts(ctx context.Context, env *Env) []Result {
	nets := fabrics(env)
	if len(nets) == 0 {
		return []Result{skipped("all networks", "loopback rehearsal: no fabric to ARP on")}
	}
	type outcome struct{ rs []Result }
	results := make([]outcome, len(nets))
	done := make(chan struct{})
	for i, n := range nets {
		go func() {
			defer func() { done <- struct{}{} }()
			results[i].rs = probeNetwork(ctx, env.Lab, n)
		}()
	}
	for range nets {
		<-done
	}
	var out []Result
	for _, r := range results {
		out = append(out, r.rs...)
	}
	return out
}

func reservedTargets(lab *config.Lab, n config.Network) []probeTarget {
	var ts []probeTarget
	for _, vip := range []struct {
		ip   netip.Addr
		what string
	}{{lab.Cluster.APIVIP, "API VIP"}, {lab.Cluster.IngressVIP, "ingress VIP"}} {
		if vip.ip.IsValid() && n.CIDR.Contains(vip.ip) {
			ts = append(ts, probeTarget{ip: vip.ip, what: vip.what})
		}
	}
	for _, node := range lab.Nodes {
		var macs []net.HardwareAddr
		for _, nic := range node.NICs {
			macs = append(macs, nic.MAC.HardwareAddr())
		}
		for _, nic := range node.NICs {
			if nic.Network == n.Name && nic.IP.IsValid() {
				ts = append(ts, probeTarget{ip: nic.IP, what: node.Name + "'s reserved address", owner: macs, node: node.Name})
			}
		}
	}
	return ts
}

func probeNetwork(ctx context.Context, lab *config.Lab, n config.Network) []Result {
	targets := reservedTargets(lab, n)
	if len(targets) == 0 {
		return []Result{ok(netTarget(n), "no reserved address on this network")}
	}
	if why := unusable(n); why != "" {
		return []Result{failure(netTarget(n), fixInterfacesFirst, "cannot probe %d reserved addresses: %s", len(targets), why)}
	}
	ips := make([]netip.Addr, len(targets))
	for i, t := range targets {
		ips[i] = t.ip
	}
	answers, err := arpProbe(ctx, n.Interface, ips)
	if err != nil {
		return []Result{failure(netTarget(n), "run the doctor as root on the jump host, with the lab's interfaces up (see the interfaces check)", "cannot probe: %v", err)}
	}
	var out []Result
	ownAnswers := 0
	for _, t := range targets {
		var others []net.HardwareAddr
		for _, mac := range answers[t.ip] {
			if slices.ContainsFunc(t.owner, func(m net.HardwareAddr) bool { return slices.Equal(m, mac) }) {
				ownAnswers++
				continue
			}
			others = append(others, mac)
		}
		if len(others) == 0 {
			continue
		}
		fix := "find the host with that MAC (switch MAC table, `ip neigh` on the gateway) and free the address, or choose another one in the lab file"
		if t.owner == nil {
			fix = "a VIP must be free until the cluster claims it: free " + t.ip.String() + " on the host with that MAC, or choose another " + map[string]string{"API VIP": "cluster.apiVIP", "ingress VIP": "cluster.ingressVIP"}[t.what]
		}
		out = append(out, failure(fmt.Sprintf("%s on %s", t.ip, n.Name), fix, "%s (%s) is already in use: answered ARP from %s", t.ip, t.what, macList(others)))
	}
	if len(out) == 0 {
		msg := fmt.Sprintf("%d reserved addresses free (ARP probe)", len(targets))
		if ownAnswers > 0 {
			msg += fmt.Sprintf("; %d answered by their own node (already up)", ownAnswers)
		}
		out = append(out, ok(netTarget(n), "%s", msg))
	}
	return out
}
