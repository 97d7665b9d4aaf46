package aisim

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
)

// ErrNoInfraEnv means a node booted while no infra-env exists to have served its image.
var ErrNoInfraEnv = errors.New("aisim: no infra-env: the node has no discovery image to boot")

// NodeBooted simulates node booting the discovery image of the newest infra-env: after
// Timings.Discovery a host with its MACs in the inventory registers (or, if a host with
// that MAC exists, e.g. after a reset, it re-registers as the same host).
func (s *Sim) NodeBooted(n Node) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance()
	var newest *infraEnv
	for _, ie := range s.infraEnvs {
		if newest == nil || ie.ie.CreatedAt.After(newest.ie.CreatedAt) ||
			(ie.ie.CreatedAt.Equal(newest.ie.CreatedAt) && ie.ie.ID > newest.ie.ID) {
			newest = ie
		}
	}
	if newest == nil {
		return ErrNoInfraEnv
	}
	if len(n.MACs) == 0 {
		return errors.New("aisim: node has no MAC")
	}
	for i := range n.MACs {
		n.MACs[i] = strings.ToLower(n.MACs[i])
	}
	s.pending = append(s.pending, pendingBoot{node: n, infraEnvID: newest.ie.ID,
		at: s.now().Add(s.opts.scaled(s.timings.Discovery))})
	return nil
}

// register adds (or re-registers) the host of a booted node. Callers hold s.mu.
func (s *Sim) register(p pendingBoot, at time.Time) {
	s.changed()
	ie := s.infraEnvs[p.infraEnvID]
	if ie == nil {
		return // deleted meanwhile
	}
	if h := s.hostByMAC(p.node.MACs[0]); h != nil && h.h.InfraEnvID == p.infraEnvID {
		switch h.h.Status {
		case "resetting-pending-user-action", "cancelled", "disconnected":
			h.h.Status, h.h.StatusInfo, h.h.Progress = "known", "", &ai.HostProgress{}
			h.stageIdx, h.poweredOff = 0, false
		case "installing-in-progress":
			// The discovery image came up where the installed system should have.
			if cl := s.clusterOf(h); cl != nil && stages[h.stageIdx] == ai.StageRebooting {
				s.bootedDiscoveryDuringReboot(cl, h, at)
			}
		case hostPendingUserAction:
			// Still the wrong boot: the service refuses the agent and the host stays.
		}
		t := at
		h.h.CheckedInAt = &t
		return
	}
	n := p.node
	name := n.Hostname
	if name == "" {
		name = "host-" + strings.ReplaceAll(n.MACs[0], ":", "")
	}
	inv := ai.Inventory{Hostname: name, SystemVendor: ai.SystemVendor{Manufacturer: "aisim", ProductName: "simulated", SerialNumber: n.Serial, Virtual: true}}
	for i, mac := range n.MACs {
		nic := ai.Interface{Name: fmt.Sprintf("ens%d", 3+i), MACAddress: mac, IPv4Addresses: []string{}}
		if i < len(n.IPs) && n.IPs[i] != "" {
			nic.IPv4Addresses = []string{n.IPs[i]}
		}
		inv.Interfaces = append(inv.Interfaces, nic)
	}
	hw := DefaultHardware()
	if n.Hardware != nil {
		hw = *n.Hardware
	}
	inv.CPU = &ai.CPU{Count: hw.CPUs, Architecture: "x86_64", ModelName: "aisim vCPU"}
	inv.Memory = &ai.Memory{PhysicalBytes: hw.MemoryBytes, UsableBytes: hw.MemoryBytes - hw.MemoryBytes/50}
	agent := agentDisks(hw.Disks)
	inv.Disks = agent
	invText, _ := jsonText(inv)
	id := s.newID()
	t := at
	h := &host{
		h: ai.Host{ID: id, Kind: "Host", Href: "/api/assisted-install/v2/infra-envs/" + ie.ie.ID + "/hosts/" + id,
			InfraEnvID: ie.ie.ID, Status: "discovering", Role: ai.RoleAutoAssign, SuggestedRole: ai.RoleAutoAssign,
			Inventory: invText, CheckedInAt: &t},
		macs: n.MACs, inv: inv, agentDisks: agent, labels: map[string]string{}, registeredAt: at, createdAt: at,
	}
	if ie.ie.ClusterID != "" {
		cl := s.clusters[ie.ie.ClusterID]
		if cl == nil {
			return // the cluster is gone: the agent cannot register
		}
		if why := registrationRefused(cl); why != "" {
			s.event(cl.c.ID, "", "error", fmt.Sprintf("Failed to register host %s: %s", name, why), at)
			return
		}
		cid := ie.ie.ClusterID
		h.h.ClusterID = &cid
		if isDay2Cluster(cl) {
			h.h.Kind, h.h.Role, h.h.SuggestedRole = ai.KindAddToExistingClusterHost, ai.RoleWorker, ai.RoleWorker
		}
	} else {
		h.h.Status = "known-unbound"
	}
	if s.powerOffMACs[n.MACs[0]] {
		h.powerOffOnReboot = true
	}
	if s.discoveryAfterWriteMACs[n.MACs[0]] {
		h.bootsDiscoveryAfterWrite = true
	}
	s.addHost(h)
	s.refreshHardware(h)
	var clusterID string
	if h.h.ClusterID != nil {
		clusterID = *h.h.ClusterID
	}
	s.event(clusterID, id, "info", fmt.Sprintf("Host %s: Successfully registered", name), at)
}

func (s *Sim) clusterOf(h *host) *cluster {
	if h.h.ClusterID == nil {
		return nil
	}
	return s.clusters[*h.h.ClusterID]
}

// PowerOffOnReboot makes the node with mac power off when it should reboot during the
// install; the install then waits for NodePoweredOn(mac).
func (s *Sim) PowerOffOnReboot(mac string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mac = strings.ToLower(mac)
	s.powerOffMACs[mac] = true
	if h := s.hostByMAC(mac); h != nil {
		h.powerOffOnReboot = true
	}
}

// BootDiscoveryAfterWrite makes the node with mac boot the discovery image again at its reboot
// after writing the image, once, as a node with a wrong boot order does: its host goes to
// installing-pending-user-action and stays there until the node boots from disk
// (NodePoweredOn), then goes on with the stage after Rebooting.
func (s *Sim) BootDiscoveryAfterWrite(mac string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mac = strings.ToLower(mac)
	s.discoveryAfterWriteMACs[mac] = true
	if h := s.hostByMAC(mac); h != nil {
		h.bootsDiscoveryAfterWrite = true
	}
}

// PoweredOff reports whether the node with mac is off (it powered off instead of rebooting
// and nobody powered it on yet).
func (s *Sim) PoweredOff(mac string) bool {
	s.mu.Lock()
	s.advance()
	h := s.hostByMAC(mac)
	off := h != nil && h.poweredOff
	s.mu.Unlock()
	s.runNotices()
	return off
}

// HostStatus is the status of the host with mac; "" when there is none (never registered,
// or deleted).
func (s *Sim) HostStatus(mac string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance()
	if h := s.hostByMAC(mac); h != nil {
		return h.h.Status
	}
	return ""
}

// HostRegistered reports whether a host with mac has registered (its node booted the
// discovery image, and runs as long as PoweredOff is false).
func (s *Sim) HostRegistered(mac string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance()
	return s.hostByMAC(mac) != nil
}

// NodePoweredOn tells the simulator the node with mac was powered on and booted from disk. A
// host waiting in Rebooting after a power-off continues from now; a host pending user action
// because it booted the discovery image goes on with the stage after Rebooting; otherwise
// nothing happens.
func (s *Sim) NodePoweredOn(mac string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance()
	mac = strings.ToLower(mac)
	delete(s.powerOffMACs, mac)
	h := s.hostByMAC(mac)
	if h != nil && h.h.Status == hostPendingUserAction {
		if cl := s.clusterOf(h); cl != nil {
			h.h.Status, h.stageIdx, h.stageAt = "installing-in-progress", slices.Index(stages, ai.StageConfiguring), s.now()
			s.event(cl.c.ID, h.h.ID, "info", fmt.Sprintf("Host %s: booted from disk; updated status from installing-pending-user-action to installing-in-progress", h.name()), s.now())
		}
		return
	}
	if h == nil {
		return
	}
	if h.poweredOff {
		// The reboot starts now (a node that also boots the discovery image after writing
		// does so at this reboot).
		h.poweredOff, h.powerOffOnReboot = false, false
		h.stageAt = s.now()
		return
	}
	h.powerOffOnReboot = false
	if h.h.Status == "installing-in-progress" && stages[h.stageIdx] == ai.StageRebooting {
		h.bootsDiscoveryAfterWrite = false // booted from disk before the discovery image came up
	}
}

// notify queues a call of an Options hook; it runs once the lock is released (runNotices), so
// a hook may call the simulator. Callers hold s.mu.
func (s *Sim) notify(hook func()) { s.notices = append(s.notices, hook) }

// runNotices calls the queued hooks. Callers do not hold s.mu.
func (s *Sim) runNotices() {
	s.mu.Lock()
	calls := s.notices
	s.notices = nil
	s.mu.Unlock()
	for _, c := range calls {
		c()
	}
}

// SetFaults replaces the injected faults.
func (s *Sim) SetFaults(f Faults) {
	s.mu.Lock()
	s.opts.Faults = f
	s.mu.Unlock()
}

// FailNext makes the next n API requests fail with status (a 5xx or 429) before they act.
func (s *Sim) FailNext(n, status int) {
	s.mu.Lock()
	s.failNext, s.failStatus = n, status
	s.mu.Unlock()
}

// StallNext makes the next n API requests hang until the client gives up (or the
// simulator closes), without acting: a server that times out.
func (s *Sim) StallNext(n int) {
	s.mu.Lock()
	s.stallNext = n
	s.mu.Unlock()
}

// ExpireAccessTokens makes every access token issued so far expired.
func (s *Sim) ExpireAccessTokens() {
	s.mu.Lock()
	for k := range s.tokens {
		s.tokens[k] = time.Time{}
	}
	s.mu.Unlock()
}

// RevokeOfflineToken makes the token endpoint refuse tok (invalid_grant).
func (s *Sim) RevokeOfflineToken(tok string) {
	s.mu.Lock()
	if s.opts.Auth != nil {
		var kept []string
		for _, t := range s.opts.Auth.OfflineTokens {
			if t != tok {
				kept = append(kept, t)
			}
		}
		s.opts.Auth.OfflineTokens = kept
	}
	s.mu.Unlock()
}

// Counts returns how many clusters, infra-envs and hosts exist.
func (s *Sim) Counts() (clusters, infraEnvs, hosts int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance()
	return len(s.clusters), len(s.infraEnvs), len(s.hosts)
}

// TokenGrants returns when each access token was issued, oldest first.
func (s *Sim) TokenGrants() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.tokenGrants)
}

// Stats are counters for tests.
type Stats struct {
	Requests     int // API requests received
	TokenGrants  int // access tokens issued
	FaultsServed int // injected failures answered
	CSRsApproved int // node CSRs approved through ClusterAPI
	// HostEvaluations counts hosts whose pre-install validations were rendered: the work of
	// advancing a cluster, which stays bounded by what changed, not by the requests.
	HostEvaluations int
}

// Stats returns the counters so far.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Violations returns the spec violations of the simulator's own responses so far.
func (s *Sim) Violations() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.violations...)
}
