package appliance

import (
	"encoding/json"
	"maps"
	"strings"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/flow"
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
	if raw, err := a.store.Docs(docKindLab); err == nil {
		if why, ok := raw[docNeedsReprovision]; ok {
			s.Lab.NeedsReprovision = true
			_ = json.Unmarshal(why, &s.Lab.ReprovisionWhy)
		}
	}
	a.powerMu.Lock()
	power := maps.Clone(a.powerNow)
	a.powerMu.Unlock()
	hosts := a.flowView(&s)
	var records map[string]flow.NodeRecord
	if f := a.Flow(); f != nil {
		records = f.Nodes()
	}
	for _, n := range lab.Nodes {
		node := status.Node{Name: n.Name, Role: n.Role, DPDK: n.DPDK, BMCDriver: n.BMC.Driver, Power: power[n.Name]}
		if r, ok := records[n.Name]; ok {
			node.Boots, node.NeedsAttention = r.Boots, r.Attention
			for _, rem := range r.History {
				node.Remedies = append(node.Remedies, status.Remedy{Time: rem.At, Action: string(rem.Action), Reason: rem.Reason, Error: rem.Err})
			}
		}
		nodeFacts(&s, &node, a.Flow())
		if len(n.NICs) > 0 { // the flow sets every NIC of a node alike
			if p, err := a.pxe.Profiles().Profile(n.NICs[0].MAC.HardwareAddr()); err == nil {
				node.PXEProfile = string(p)
			}
		}
		if h, ok := hosts[n.Name]; ok {
			node.HostID, node.HostStatus = h.ID, h.Status
			if h.Progress != nil {
				node.HostStage, node.HostProgress = h.Progress.CurrentStage, h.Progress.InstallationPercentage
			}
		}
		for _, nic := range n.NICs {
			sn := status.NIC{Network: nic.Network, MAC: string(nic.MAC), IP: nic.IP.String()}
			if l, ok := leases[nic.Network+"/"+string(nic.MAC)]; ok {
				sn.LeaseExpiry = l.Expiry
			}
			node.NICs = append(node.NICs, sn)
		}
		s.Nodes = append(s.Nodes, node)
	}
	if r := a.DoctorReport(); r != nil {
		d := &status.Doctor{Time: r.Time, Duration: r.Duration, Failed: r.Failed()}
		for _, res := range r.Results {
			d.Results = append(d.Results, status.DoctorResult{Check: res.Check, Target: res.Target, Status: string(res.Status), Message: res.Message, Fix: res.Fix})
		}
		s.Doctor = d
	}
	s.Verify = a.verifyView()
	s.Reload = a.reloads.get()
	for _, l := range a.live.Loops() {
		s.Loops = append(s.Loops, status.Loop{Name: l.Name, Alive: l.Alive(), LastBeat: l.LastBeat, Idle: l.Idle, Wedged: l.Wedged})
	}
	if events, err := a.store.RecentEvents(recentEvents); err == nil {
		for i := len(events) - 1; i >= 0; i-- { // newest first
			e := events[i]
			s.Events = append(s.Events, status.Event{Time: e.Time, Level: e.Level, Source: e.Source, Node: e.Node, Message: e.Message})
		}
	}
	if a.opts.SnapshotView != nil {
		a.opts.SnapshotView(&s)
	}
	return s
}

// flowView fills the install's part of the snapshot and returns the installer hosts by node.
func (a *Appliance) flowView(s *status.Snapshot) map[string]ai.Host {
	hosts := map[string]ai.Host{}
	f := a.Flow()
	if f == nil {
		return hosts
	}
	for _, r := range f.Steps() {
		st := status.Step{Name: r.Name, State: r.State, Started: r.Started, Finished: r.Finished, Attempts: r.Attempts, LastError: r.LastError}
		if !r.Finished.IsZero() && !r.Started.IsZero() {
			st.Duration = r.Finished.Sub(r.Started)
		} else if r.State == flow.StateRunning {
			st.Duration = time.Since(r.Started)
		}
		s.Steps = append(s.Steps, st)
	}
	state, obs := f.State(), f.Observed()
	s.Lab.RemovedNodes = f.Removed()
	s.Cluster.ID, s.Cluster.InfraEnvID = state.ClusterID, state.InfraEnvID
	if c := obs.Cluster; c != nil {
		s.Cluster.Status, s.Cluster.StatusInfo = c.Status, c.StatusInfo
		if c.Progress != nil {
			s.Cluster.Progress = c.Progress.TotalPercentage
		}
		s.Cluster.Proxy = clusterProxyView(c, a.Lab())
	}
	for name, id := range state.Hosts {
		for _, h := range obs.Hosts {
			if h.ID == id {
				hosts[name] = h
			}
		}
	}
	for _, f := range obs.Failing {
		v := status.Validation{Scope: f.Scope, ID: f.ID, Status: f.Status, Message: f.Message}
		v.Plain, v.Fix = status.ExplainValidation(f.ID)
		s.Validations = append(s.Validations, v)
	}
	for _, h := range obs.UnknownHosts {
		s.UnknownHosts = append(s.UnknownHosts, status.UnknownHost{ID: h.ID, Hostname: h.Name(), MACs: h.MACs(), Status: h.Status})
	}
	return hosts
}

// clusterProxyView is the installer's cluster proxy for the status page, the password
// redacted; nil when the cluster has none.
func clusterProxyView(c *ai.Cluster, lab *config.Lab) *status.Proxy {
	if c.HTTPProxy == "" && c.HTTPSProxy == "" {
		return nil
	}
	p := &status.Proxy{HTTPProxy: config.RedactProxyURL(c.HTTPProxy), HTTPSProxy: config.RedactProxyURL(c.HTTPSProxy), TrustBundle: lab.Proxy.TrustBundleSubjects}
	if c.NoProxy != "" {
		p.NoProxy = strings.Split(c.NoProxy, ",")
	}
	return p
}
