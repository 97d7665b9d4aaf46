package appliance

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/timeline"
	"github.com/prometheus/client_golang/prometheus"
)

// Timeline is the lab nodes' milestones (nil before New).
func (a *Appliance) Timeline() *timeline.Log { return a.timeline }

// openTimeline opens the nodes' timelines kept in the store and has DHCP and PXE report to
// them; the flow reports through its Deps.
func (a *Appliance) openTimeline(lab *config.Lab, reg prometheus.Registerer) error {
	tl, err := timeline.Open(a.store, a.log.With("service", "timeline"))
	if err != nil {
		return err
	}
	tl.SetLab(timelineNodes(lab))
	if reg != nil {
		if err := reg.Register(tl.Collector()); err != nil {
			return fmt.Errorf("timeline metrics: %w", err)
		}
	}
	a.timeline = tl
	a.dhcp.SetTimeline(tl)
	a.pxe.SetTimeline(tl)
	return nil
}

// timelineNodes are the lab's nodes with the addresses they are known by: their NICs' MACs
// and IPs, and their BMC's address (a BMC reads the ISO for virtual media).
func timelineNodes(lab *config.Lab) []timeline.Node {
	out := make([]timeline.Node, 0, len(lab.Nodes))
	for _, n := range lab.Nodes {
		tn := timeline.Node{Name: n.Name}
		for _, nic := range n.NICs {
			tn.MACs = append(tn.MACs, string(nic.MAC))
			if nic.IP.IsValid() {
				tn.IPs = append(tn.IPs, nic.IP.String())
			}
		}
		if h := bmcHost(n.BMC.Address); h != "" {
			tn.IPs = append(tn.IPs, h)
		}
		out = append(out, tn)
	}
	return out
}

// bmcHost is the host of a BMC address: a Redfish URL's, or an IPMI host (with or without a port).
func bmcHost(addr string) string {
	if addr == "" {
		return ""
	}
	if strings.Contains(addr, "://") {
		u, err := url.Parse(addr)
		if err != nil {
			return ""
		}
		return u.Hostname()
	}
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// recorder is the timeline as the flow reports to it (Discard when there is none).
func (a *Appliance) recorder() timeline.Recorder {
	if a.timeline == nil {
		return timeline.Discard
	}
	return a.timeline
}
