package aisim

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
)

// cluster is the simulator's record of a cluster.
type cluster struct {
	c                 ai.Cluster // stored fields; status and progress are recomputed
	createdAt         time.Time
	updatedAt         time.Time
	pullSecret        string
	controlPlaneCount int
	installStart      time.Time // zero before install
	finalizingStart   time.Time
	installedAt       time.Time
	manifests         map[string]manifest // key folder/file_name
	validations       string
	evaluatedAt       uint64 // s.changes when its pre-install state was last evaluated (0: never)
}

type manifest struct {
	folder, name string
	content      []byte
}

// infraEnv is the simulator's record of an infra-env.
type infraEnv struct {
	ie         ai.InfraEnv
	pullSecret string
	kernelArgs []ai.KernelArgument
}

// host is the simulator's record of a host.
type host struct {
	h                ai.Host
	macs             []string
	inv              ai.Inventory
	agentDisks       []ai.Disk           // the disks as the agent reported them
	reqs             ai.HostRequirements // what the host's role needs (hardware.go)
	labels           map[string]string
	registeredAt     time.Time
	stageIdx         int       // index in stages while installing
	stageAt          time.Time // when the current stage began
	powerOffOnReboot bool
	poweredOff       bool
	// bootsDiscoveryAfterWrite: at its reboot after writing the image the node boots the
	// discovery image again (a wrong boot order), once.
	bootsDiscoveryAfterWrite bool
	createdAt                time.Time
	// vals are the host's validations as of validatedAs (its name and how many hosts have it).
	vals        validationResult
	validatedAs string
	// join and csrName are a day-2 host's way into the cluster (see ClusterAPI).
	join    int
	csrName string
}

// stages a host walks through during the install.
var stages = []string{
	ai.StageStartingInstallation,
	ai.StageInstalling,
	ai.StageWritingImage,
	ai.StageRebooting,
	ai.StageConfiguring,
	ai.StageJoined,
	ai.StageDone,
}

// pendingBoot is a node that booted the discovery image and will register at at.
type pendingBoot struct {
	node       Node
	infraEnvID string
	at         time.Time
}

// Node describes a simulated machine for NodeBooted.
type Node struct {
	MACs     []string // first one is the boot NIC; lower case
	IPs      []string // one CIDR address per MAC (optional), e.g. 172.16.0.11/24
	Hostname string   // as DHCP gave it; "host-<mac>" when empty; "localhost" makes it insufficient
	Serial   string
	// Hardware is what the agent reports of the machine; nil: DefaultHardware.
	Hardware *Hardware
}

func (s *Sim) now() time.Time { return s.opts.Clock.Now() }

// advance moves every time-driven state to now. Callers hold s.mu.
func (s *Sim) advance() {
	now := s.now()
	// Discovery: booted nodes register once their delay has passed.
	kept := s.pending[:0]
	for _, p := range s.pending {
		if now.Before(p.at) {
			kept = append(kept, p)
			continue
		}
		s.register(p, p.at)
	}
	s.pending = kept
	for _, cl := range s.clusters {
		s.advanceCluster(cl, now)
	}
}

func (s *Sim) advanceCluster(cl *cluster, now time.Time) {
	switch cl.c.Status {
	case ai.ClusterInsufficient, ai.ClusterReady, ai.ClusterPendingForInput:
		if cl.evaluatedAt == s.changes && s.changes != 0 {
			return // nothing changed since: the same hosts, names, roles and statuses
		}
		cl.evaluatedAt = s.changes
	}
	hosts := s.clusterHosts(cl.c.ID)
	switch cl.c.Status {
	case ai.ClusterInsufficient, ai.ClusterReady, ai.ClusterPendingForInput:
		suggestRoles(hosts, cl.controlPlaneCount)
		names := hostNames(hosts)
		for _, h := range hosts {
			s.hostPreInstallStatus(h, names)
		}
		s.validateCluster(cl, hosts)
	case ai.ClusterPreparingForInstallation:
		prepEnd := cl.installStart.Add(s.opts.scaled(s.timings.Preparing))
		if now.Before(prepEnd) {
			for _, h := range hosts {
				h.h.Status, h.h.StatusInfo = "preparing-successful", "Host finished successfully to prepare for installation"
			}
			return
		}
		s.setClusterStatus(cl, ai.ClusterInstalling, "Installation in progress", prepEnd)
		for _, h := range hosts {
			h.h.Status, h.h.StatusInfo = "installing-in-progress", ai.StageStartingInstallation
			h.stageIdx, h.stageAt = 0, prepEnd
			s.event(cl.c.ID, h.h.ID, "info", fmt.Sprintf("Host %s: updated status from preparing-successful to installing-in-progress", h.name()), prepEnd)
		}
		fallthrough
	case ai.ClusterInstalling, ai.ClusterInstallingPendingAction:
		done, pending := true, false
		for _, h := range hosts {
			s.advanceHost(cl, h, now)
			if h.h.Status != "installed" {
				done = false
			}
			if h.h.Status == hostPendingUserAction {
				pending = true
			}
		}
		if pending {
			s.setClusterStatus(cl, ai.ClusterInstallingPendingAction, "Cluster has hosts pending user action", now)
			return
		}
		s.setClusterStatus(cl, ai.ClusterInstalling, "Installation in progress", now)
		if !done {
			return
		}
		last := cl.installStart
		for _, h := range hosts {
			if h.stageAt.After(last) {
				last = h.stageAt
			}
		}
		cl.finalizingStart = last
		s.setClusterStatus(cl, ai.ClusterFinalizing, "Finalizing cluster installation", last)
		fallthrough
	case ai.ClusterAddingHosts:
		s.advanceDay2(cl, now)
	case ai.ClusterFinalizing:
		end := cl.finalizingStart.Add(s.opts.scaled(s.timings.Finalizing))
		if now.Before(end) {
			return
		}
		cl.installedAt = end
		t := end
		cl.c.InstallCompletedAt = &t
		s.setClusterStatus(cl, ai.ClusterInstalled, "Cluster is installed", end)
	}
}

// advanceHost walks an installing host through its stages.
func (s *Sim) advanceHost(cl *cluster, h *host, now time.Time) {
	if h.h.Status != "installing-in-progress" {
		return
	}
	stageDur := s.opts.scaled(s.timings.Stage)
	for h.stageIdx < len(stages)-1 {
		if stages[h.stageIdx] == ai.StageRebooting && h.powerOffOnReboot {
			if !h.poweredOff {
				h.poweredOff = true
				if cb, mac := s.opts.OnPowerOff, h.macs[0]; cb != nil {
					s.notify(func() { cb(mac) })
				}
				s.event(cl.c.ID, h.h.ID, "warning", fmt.Sprintf("Host %s: powered off instead of rebooting", h.name()), now)
			}
			return // waits for NodePoweredOn, which clears powerOffOnReboot
		}
		if stages[h.stageIdx] == ai.StageRebooting && h.bootsDiscoveryAfterWrite {
			// The node restarted into the discovery image, whose agent registers again.
			at := h.stageAt.Add(s.opts.scaled(s.timings.Discovery))
			if now.Before(at) {
				return
			}
			h.bootsDiscoveryAfterWrite = false
			s.bootedDiscoveryDuringReboot(cl, h, at)
			return
		}
		next := h.stageAt.Add(stageDur)
		if now.Before(next) {
			return
		}
		h.stageIdx++
		h.stageAt = next
		s.event(cl.c.ID, h.h.ID, "info", fmt.Sprintf("Host %s: reached installation stage %s", h.name(), stages[h.stageIdx]), next)
	}
	if h.h.Status != "installed" {
		h.h.Status, h.h.StatusInfo = "installed", "Done"
		s.event(cl.c.ID, h.h.ID, "info", fmt.Sprintf("Host %s: updated status from installing-in-progress to installed", h.name()), h.stageAt)
	}
}

// Host status and status info of a host that booted the discovery image where it should have
// booted from disk (the service's "wrong boot order detection"); the service appends the
// installation disk's model, serial, name and id.
const (
	hostPendingUserAction = "installing-pending-user-action"
	wrongBootOrderInfo    = "Expected the host to boot from disk, but it booted the installation image - please reboot and fix boot order to boot from disk"
)

// bootedDiscoveryDuringReboot is the service's answer to a host that registers again while it
// is in its Rebooting stage: it waits, pending user action, until its node boots from disk
// (NodePoweredOn). Callers hold s.mu.
func (s *Sim) bootedDiscoveryDuringReboot(cl *cluster, h *host, at time.Time) {
	h.h.Status, h.h.StatusInfo = hostPendingUserAction, wrongBootOrderInfo+" "+installDiskLabel(h)
	s.event(cl.c.ID, h.h.ID, "warning", fmt.Sprintf("Host %s: updated status from installing-in-progress to installing-pending-user-action (%s)", h.name(), h.h.StatusInfo), at)
	if cb, mac := s.opts.OnPendingUserAction, h.macs[0]; cb != nil {
		s.notify(func() { cb(mac) })
	}
}

func (s *Sim) setClusterStatus(cl *cluster, status, info string, at time.Time) {
	if cl.c.Status == status {
		return
	}
	s.event(cl.c.ID, "", "info", fmt.Sprintf("Updated status of the cluster to %s", status), at)
	cl.c.Status, cl.c.StatusInfo = status, info
	t := at
	cl.c.StatusUpdatedAt = &t
	if cb, id := s.opts.OnClusterStatus, cl.c.ID; cb != nil {
		s.notify(func() { cb(id, status) })
	}
}

// hostPreInstallStatus sets known/insufficient from the host's name.
func (s *Sim) hostPreInstallStatus(h *host, names map[string]int) {
	switch h.h.Status {
	case "known", "insufficient", "discovering", "pending-for-input":
	default:
		return
	}
	if key := s.validationKey(h, names); h.validatedAs != key || h.vals.text == "" {
		s.refreshHardware(h) // may choose another installation disk: part of the key
		h.vals, h.validatedAs = hostValidations(h, names), s.validationKey(h, names)
		s.stats.HostEvaluations++
	}
	vals := h.vals
	h.h.ValidationsInfo = vals.text
	if vals.ok {
		h.h.Status, h.h.StatusInfo = "known", "Host is ready to be installed"
	} else {
		h.h.Status, h.h.StatusInfo = "insufficient", "Host cannot be installed due to following failing validation(s): "+strings.Join(vals.failing, " ; ")
	}
}

func (h *host) name() string {
	if h.h.RequestedHostname != "" {
		return h.h.RequestedHostname
	}
	return h.inv.Hostname
}

// clusterHosts returns a cluster's hosts in a stable order.
func (s *Sim) clusterHosts(clusterID string) []*host {
	if c, ok := s.hostLists[clusterID]; ok && c.at == s.changes {
		return slices.Clip(c.hosts) // membership and order change only with s.changes
	}
	if s.hostLists == nil {
		s.hostLists = map[string]hostList{}
	}
	out := s.sortedClusterHosts(clusterID)
	s.hostLists[clusterID] = hostList{at: s.changes, hosts: out}
	return slices.Clip(out)
}

// hostList is a cluster's hosts in order as of s.changes == at.
type hostList struct {
	at    uint64
	hosts []*host
}

func (s *Sim) sortedClusterHosts(clusterID string) []*host {
	var out []*host
	for _, h := range s.hosts {
		if h.h.ClusterID != nil && *h.h.ClusterID == clusterID {
			out = append(out, h)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].createdAt.Before(out[j].createdAt) || (out[i].createdAt.Equal(out[j].createdAt) && out[i].h.ID < out[j].h.ID)
	})
	return out
}

func (s *Sim) infraEnvHosts(infraEnvID string) []*host {
	var out []*host
	for _, h := range s.hosts {
		if h.h.InfraEnvID == infraEnvID {
			out = append(out, h)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].createdAt.Before(out[j].createdAt) || (out[i].createdAt.Equal(out[j].createdAt) && out[i].h.ID < out[j].h.ID)
	})
	return out
}
