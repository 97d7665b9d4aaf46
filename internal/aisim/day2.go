package aisim

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
	"github.com/cn2-appliance/cn2-appliance/pkg/nodejoin"
)

// Day-2, as the service does it (assisted-service internal/cluster TransformClusterToDay2,
// internal/bminventory V2InstallHost, internal/host's day-2 stages):
//   - allow-add-hosts turns an installed cluster of kind Cluster into kind AddHostsCluster,
//     status adding-hosts, same id;
//   - a host that registers with such a cluster is of kind AddToExistingClusterHost, role
//     worker; a host cannot register with an installed day-1 cluster at all;
//   - install host takes one known day-2 host; its stages end at Rebooting, which the service
//     turns into Done and status added-to-existing-cluster (the service cannot follow the
//     node further: joining is the cluster's business, CSRs included).
//
// The simulated cluster API (ClusterAPI) then plays the kubelet of each added host: it asks
// for its client certificate, then, once approved, for its serving certificate, and its node
// is Ready once both are approved. The day-1 hosts are Ready nodes.

// registrationRefused says why a new host cannot register with cl ("" when it can), as the
// service's AcceptRegistration does.
func registrationRefused(cl *cluster) string {
	switch cl.c.Status {
	case ai.ClusterInsufficient, ai.ClusterReady, ai.ClusterPendingForInput, ai.ClusterAddingHosts:
		return ""
	case ai.ClusterInstalled:
		return "Cannot add hosts to an existing cluster using the original Discovery ISO."
	}
	return "Host can register only in one of the following states: [insufficient ready pending-for-input adding-hosts]"
}

func isDay2Cluster(cl *cluster) bool { return cl.c.Kind == ai.KindAddHostsCluster }

func (s *Sim) allowAddHosts(w http.ResponseWriter, r *http.Request) {
	cl := s.findCluster(w, r)
	if cl == nil {
		return
	}
	// The service answers 400 here, which the spec does not list for this operation; the
	// simulator answers the documented 409 with the service's message.
	if cl.c.Status != ai.ClusterInstalled {
		writeError(w, http.StatusConflict, fmt.Sprintf("cannot transform cluster %s to day2. Expected cluster status: installed, but cluster status is: %s", cl.c.ID, cl.c.Status))
		return
	}
	if cl.c.Kind != "Cluster" {
		writeError(w, http.StatusConflict, fmt.Sprintf("cannot transform cluster %s to day2. Expected cluster kind: Cluster, but cluster kind is: %s", cl.c.ID, cl.c.Kind))
		return
	}
	cl.c.Kind = ai.KindAddHostsCluster
	s.setClusterStatus(cl, ai.ClusterAddingHosts, "cluster is adding hosts to existing OCP cluster", s.now())
	writeJSON(w, http.StatusAccepted, s.clusterView(cl, true))
}

func (s *Sim) installHost(w http.ResponseWriter, r *http.Request) {
	h := s.findHost(w, r)
	if h == nil {
		return
	}
	if h.h.ClusterID == nil {
		writeError(w, http.StatusNotFound, "host "+h.h.ID+" is not bound to any cluster")
		return
	}
	if !h.day2() {
		writeError(w, http.StatusConflict, "method only allowed when adding hosts to an existing cluster")
		return
	}
	if h.h.Status != ai.HostKnown {
		writeError(w, http.StatusConflict, "cannot install host in state "+h.h.Status)
		return
	}
	now := s.now()
	h.h.Status, h.h.StatusInfo = "installing", "Installation is in progress"
	h.stageIdx, h.stageAt = 0, now
	s.event(*h.h.ClusterID, h.h.ID, "info", fmt.Sprintf("Host %s: updated status from known to installing (Installation is in progress)", h.name()), now)
	writeJSON(w, http.StatusAccepted, s.hostView(h))
}

func (h *host) day2() bool { return h.h.Kind == ai.KindAddToExistingClusterHost }

// day2Stages are a day-2 host's stages: up to Rebooting, after which the service says Done.
var day2Stages = stages[:slices.Index(stages, ai.StageRebooting)+1]

// advanceDay2 moves a day-2 cluster's new hosts: validations before their install, stages
// during it. Callers hold s.mu.
func (s *Sim) advanceDay2(cl *cluster, now time.Time) {
	var day2 []*host
	for _, h := range s.clusterHosts(cl.c.ID) {
		if h.day2() {
			day2 = append(day2, h)
		}
	}
	names := hostNames(day2)
	for _, h := range day2 {
		switch h.h.Status {
		case "installing":
			h.h.Status, h.h.StatusInfo = "installing-in-progress", ai.StageStartingInstallation
			s.event(cl.c.ID, h.h.ID, "info", fmt.Sprintf("Host %s: updated status from installing to installing-in-progress", h.name()), h.stageAt)
			fallthrough
		case "installing-in-progress":
			s.advanceDay2Host(cl, h, now)
		default:
			s.hostPreInstallStatus(h, names)
		}
	}
}

func (s *Sim) advanceDay2Host(cl *cluster, h *host, now time.Time) {
	stageDur := s.opts.scaled(s.timings.Stage)
	for h.stageIdx < len(day2Stages)-1 {
		next := h.stageAt.Add(stageDur)
		if now.Before(next) {
			return
		}
		h.stageIdx++
		h.stageAt = next
		s.event(cl.c.ID, h.h.ID, "info", fmt.Sprintf("Host %s: reached installation stage %s", h.name(), stages[h.stageIdx]), next)
	}
	// Rebooting is reported: the service records Done and the host's last status.
	h.stageIdx = slices.Index(stages, ai.StageDone)
	h.h.Status, h.h.StatusInfo = ai.HostAddedToExistingCluster, "Host has rebooted and no further updates will be posted. Please check console for progress and to possibly approve pending CSRs"
	h.join = joinClientCSR
	s.csrSeq++
	h.csrName = fmt.Sprintf("csr-%05d", s.csrSeq)
	s.event(cl.c.ID, h.h.ID, "info", fmt.Sprintf("Host %s: updated status from installing-in-progress to added-to-existing-cluster", h.name()), h.stageAt)
}

// A day-2 node's way into the cluster, as the simulated cluster API sees it.
const (
	joinNone       = iota
	joinClientCSR  // its kubelet's client CSR waits for approval
	joinServingCSR // a node, NotReady, whose serving CSR waits for approval
	joinReady      // Ready
)

// ClusterAPI is the simulated cluster's Kubernetes API, as far as nodes joining it go: the
// rehearsal's and the tests' stand-in for the real one (nodejoin/kubeapi). Every cluster the
// simulator holds is one API; node names are the hosts' names.
func (s *Sim) ClusterAPI() nodejoin.API { return clusterAPI{s} }

type clusterAPI struct{ s *Sim }

func (a clusterAPI) PendingNodeCSRs(ctx context.Context) ([]nodejoin.CSR, error) {
	s := a.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance()
	var out []nodejoin.CSR
	for _, h := range s.hosts {
		switch h.join {
		case joinClientCSR:
			out = append(out, nodejoin.CSR{Name: h.csrName, Node: h.name(), Kind: nodejoin.KindClient})
		case joinServingCSR:
			out = append(out, nodejoin.CSR{Name: h.csrName, Node: h.name(), Kind: nodejoin.KindServing})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (a clusterAPI) ApproveCSR(ctx context.Context, name, reason string) error {
	s := a.s
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range s.hosts {
		if h.csrName != name || (h.join != joinClientCSR && h.join != joinServingCSR) {
			continue
		}
		if h.join == joinClientCSR {
			h.join = joinServingCSR
			s.csrSeq++
			h.csrName = fmt.Sprintf("csr-%05d", s.csrSeq)
		} else {
			h.join, h.csrName = joinReady, ""
		}
		s.stats.CSRsApproved++
		return nil
	}
	return fmt.Errorf("aisim: no pending CSR %s", name)
}

func (a clusterAPI) NodeReady(ctx context.Context, node string) (ready, exists bool, err error) {
	s := a.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance()
	for _, h := range s.hosts {
		if h.name() != node {
			continue
		}
		switch {
		case h.join == joinReady, !h.day2() && h.h.Status == "installed":
			return true, true, nil
		case h.join == joinServingCSR:
			return false, true, nil
		}
	}
	return false, false, nil
}
