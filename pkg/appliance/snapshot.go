package appliance

import (
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/status"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
)

// recentEvents is how many events the status page shows.
const recentEvents = 50

// Version is the appliance's version as the status page shows it; the CLI sets it.
var Version = "dev"

// Snapshot assembles the status page's view of the lab from the lab file, the store and the
// services. It reads only.
func (a *Appliance) Snapshot() status.Snapshot {
	lab := a.Lab()
	now := time.Now()
	s := status.Snapshot{
		Time:    now,
		Version: Version,
		Lab: status.Lab{
			File:             lab.File,
			Zone:             lab.Zone(),
			OpenshiftVersion: lab.Cluster.OpenshiftVersion,
			APIVIP:           lab.Cluster.APIVIP.String(),
			IngressVIP:       lab.Cluster.IngressVIP.String(),
		},
	}
	leases := map[string]store.Lease{} // network/mac -> lease
	if all, err := a.store.Leases(""); err == nil {
		for _, l := range all {
			if !l.Expired(now) {
				leases[l.Network+"/"+l.MAC] = l
			}
		}
	}
	for _, n := range lab.Nodes {
		node := status.Node{Name: n.Name, Role: n.Role, DPDK: n.DPDK, BMCDriver: n.BMC.Driver}
		for _, nic := range n.NICs {
			sn := status.NIC{Network: nic.Network, MAC: string(nic.MAC), IP: nic.IP.String()}
			if l, ok := leases[nic.Network+"/"+string(nic.MAC)]; ok {
				sn.LeaseExpiry = l.Expiry
			}
			node.NICs = append(node.NICs, sn)
		}
		s.Nodes = append(s.Nodes, node)
	}
	if events, err := a.store.RecentEvents(recentEvents); err == nil {
		for i := len(events) - 1; i >= 0; i-- { // newest first
			e := events[i]
			s.Events = append(s.Events, status.Event{Time: e.Time, Level: e.Level, Source: e.Source, Node: e.Node, Message: e.Message})
		}
	}
	return s
}
