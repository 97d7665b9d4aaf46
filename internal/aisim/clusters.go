package aisim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
)

var versions = map[string]ai.OpenshiftVersion{
	"4.14": {DisplayName: "4.14.38", SupportLevel: "maintenance", CPUArchitectures: []string{"x86_64"}},
	"4.15": {DisplayName: "4.15.35", SupportLevel: "maintenance", CPUArchitectures: []string{"x86_64"}},
	"4.16": {DisplayName: "4.16.20", SupportLevel: "production", Default: true, CPUArchitectures: []string{"x86_64"}},
}

func knownVersion(v string) bool {
	for k, info := range versions {
		if v == k || v == info.DisplayName || strings.HasPrefix(v, k+".") {
			return true
		}
	}
	return false
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "bad body: "+err.Error())
		return false
	}
	return true
}

// pullSecretProblem is why the service refuses a pull secret ("" when it accepts it): it
// must be JSON with auths, and every auth base64 of user:password, in the service's words.
func pullSecretProblem(ps string) string {
	if _, err := ai.PullSecret([]byte(ps)); err != nil {
		return "invalid pull secret: " + err.Error()
	}
	var doc struct {
		Auths map[string]struct {
			Auth string `json:"auth"`
		} `json:"auths"`
	}
	_ = json.Unmarshal([]byte(ps), &doc)
	for _, registry := range slices.Sorted(maps.Keys(doc.Auths)) {
		if doc.Auths[registry].Auth == "" {
			return fmt.Sprintf("invalid pull secret: %q JSON-object requires 'auth' field", registry)
		}
		raw, err := base64.StdEncoding.DecodeString(doc.Auths[registry].Auth)
		if err != nil {
			return fmt.Sprintf("invalid pull secret: 'auth' field of %q is not base64-encoded", registry)
		}
		if !bytes.Contains(raw, []byte(":")) {
			return fmt.Sprintf("invalid pull secret: 'auth' for %s is not in 'user:password' format", registry)
		}
	}
	return ""
}

func (s *Sim) registerCluster(w http.ResponseWriter, r *http.Request) {
	var p ai.ClusterCreateParams
	if !decode(w, r, &p) {
		return
	}
	switch {
	case !knownVersion(p.OpenshiftVersion):
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Openshift version %s for CPU architecture x86_64 is not supported", p.OpenshiftVersion))
		return
	case pullSecretProblem(p.PullSecret) != "":
		writeError(w, http.StatusBadRequest, "pull secret for new cluster is invalid: "+pullSecretProblem(p.PullSecret))
		return
	case p.Platform != nil && p.Platform.Type == "baremetal" && p.UserManagedNetworking != nil && *p.UserManagedNetworking:
		writeError(w, http.StatusBadRequest, "Can't set baremetal platform with user-managed-networking enabled")
		return
	case proxyProblem(p.HTTPProxy, p.HTTPSProxy, p.NoProxy) != "":
		writeError(w, http.StatusBadRequest, proxyProblem(p.HTTPProxy, p.HTTPSProxy, p.NoProxy))
		return
	}
	now := s.now()
	id := s.newID()
	cl := &cluster{createdAt: now, updatedAt: now, pullSecret: p.PullSecret, manifests: map[string]manifest{},
		controlPlaneCount: s.opts.ControlPlaneCount}
	if p.ControlPlaneCount != nil {
		cl.controlPlaneCount = *p.ControlPlaneCount
	}
	umn := false
	if p.UserManagedNetworking != nil {
		umn = *p.UserManagedNetworking
	}
	platform := p.Platform
	if platform == nil {
		platform = &ai.Platform{Type: "baremetal"}
	}
	nt := "OVNKubernetes"
	cl.c = ai.Cluster{
		ID: id, Kind: "Cluster", Href: base + "/clusters/" + id, Name: p.Name,
		OpenshiftVersion: p.OpenshiftVersion, BaseDNSDomain: p.BaseDNSDomain,
		Status: ai.ClusterInsufficient, StatusInfo: "Cluster is not ready for install",
		APIVIPs: withCluster(p.APIVIPs, id), IngressVIPs: withCluster(p.IngressVIPs, id),
		ClusterNetworks: p.ClusterNetworks, ServiceNetworks: p.ServiceNetworks, MachineNetworks: p.MachineNetworks,
		NetworkType: &nt, UserManagedNetworking: &umn, Platform: platform, ControlPlaneCount: cl.controlPlaneCount,
		PullSecretSet: true, StatusUpdatedAt: &now, ImageInfo: &ai.ImageInfo{},
		HTTPProxy: deref(p.HTTPProxy), HTTPSProxy: deref(p.HTTPSProxy), NoProxy: deref(p.NoProxy),
	}
	if len(cl.c.ClusterNetworks) == 0 {
		cl.c.ClusterNetworks = []ai.ClusterNetwork{{CIDR: "10.128.0.0/14", HostPrefix: 23}}
	}
	if len(cl.c.ServiceNetworks) == 0 {
		cl.c.ServiceNetworks = []ai.Network{{CIDR: "172.30.0.0/16"}}
	}
	s.clusters[id] = cl
	s.event(id, "", "info", fmt.Sprintf("Successfully registered cluster %s with id %s", p.Name, id), now)
	s.changed() // what this handler changed is evaluated now
	s.advanceCluster(cl, now)
	writeJSON(w, http.StatusCreated, s.clusterView(cl, true))
}

func withCluster(v []ai.VIP, id string) []ai.VIP {
	out := make([]ai.VIP, 0, len(v))
	for _, x := range v {
		out = append(out, ai.VIP{IP: x.IP, ClusterID: id, Verification: "unverified"})
	}
	return out
}

// clusterView renders a cluster with its computed fields.
func (s *Sim) clusterView(cl *cluster, withHosts bool) ai.Cluster {
	c := cl.c
	c.ValidationsInfo = cl.validations
	hosts := s.clusterHosts(c.ID)
	c.TotalHostCount = len(hosts)
	c.Hosts = []ai.Host{}
	for _, h := range hosts {
		if h.h.Status == "known" {
			c.ReadyHostCount++
		}
		if withHosts {
			c.Hosts = append(c.Hosts, s.hostView(h))
		}
	}
	c.Progress = s.clusterProgress(cl, hosts)
	if !cl.installStart.IsZero() {
		t := cl.installStart
		c.InstallStartedAt = &t
	}
	if c.APIVIPs == nil {
		c.APIVIPs = []ai.VIP{}
	}
	if c.IngressVIPs == nil {
		c.IngressVIPs = []ai.VIP{}
	}
	if c.MachineNetworks == nil {
		c.MachineNetworks = []ai.Network{}
	}
	return c
}

func (s *Sim) clusterProgress(cl *cluster, hosts []*host) *ai.ClusterProgress {
	p := &ai.ClusterProgress{}
	if cl.installStart.IsZero() {
		return p
	}
	now := s.now()
	switch cl.c.Status {
	case ai.ClusterPreparingForInstallation:
		p.PreparingForInstallationStagePercentage = pct(now.Sub(cl.installStart), s.opts.scaled(s.timings.Preparing))
	case ai.ClusterInstalling, ai.ClusterInstallingPendingAction, ai.ClusterFinalizing, ai.ClusterInstalled, ai.ClusterCancelled, ai.ClusterError:
		p.PreparingForInstallationStagePercentage = 100
		sum := 0
		for _, h := range hosts {
			sum += s.hostView(h).Progress.InstallationPercentage
		}
		if len(hosts) > 0 {
			p.InstallingStagePercentage = sum / len(hosts)
		}
	}
	switch cl.c.Status {
	case ai.ClusterFinalizing:
		p.FinalizingStage = "Waiting for cluster operators"
		p.FinalizingStagePercentage = pct(now.Sub(cl.finalizingStart), s.opts.scaled(s.timings.Finalizing))
	case ai.ClusterInstalled:
		p.FinalizingStage = "Done"
		p.FinalizingStagePercentage = 100
	}
	p.TotalPercentage = (10*p.PreparingForInstallationStagePercentage + 75*p.InstallingStagePercentage + 15*p.FinalizingStagePercentage) / 100
	return p
}

func pct(done, total time.Duration) int {
	if total <= 0 || done >= total {
		return 100
	}
	if done < 0 {
		return 0
	}
	return int(100 * done / total)
}

func (s *Sim) findCluster(w http.ResponseWriter, r *http.Request) *cluster {
	cl := s.clusters[r.PathValue("id")]
	if cl == nil {
		writeError(w, http.StatusNotFound, "cluster "+r.PathValue("id")+" not found")
	}
	return cl
}

func (s *Sim) listClusters(w http.ResponseWriter, r *http.Request) {
	with := r.URL.Query().Get("with_hosts") == "true"
	out := []ai.Cluster{}
	for _, cl := range s.sortedClusters() {
		out = append(out, s.clusterView(cl, with))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Sim) sortedClusters() []*cluster {
	out := make([]*cluster, 0, len(s.clusters))
	for _, cl := range s.clusters {
		out = append(out, cl)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].createdAt.Before(out[j].createdAt) || (out[i].createdAt.Equal(out[j].createdAt) && out[i].c.ID < out[j].c.ID)
	})
	return out
}

func (s *Sim) getCluster(w http.ResponseWriter, r *http.Request) {
	if cl := s.findCluster(w, r); cl != nil {
		writeJSON(w, http.StatusOK, s.clusterView(cl, r.URL.Query().Get("exclude-hosts") != "true"))
	}
}

func preInstall(status string) bool {
	return status == ai.ClusterInsufficient || status == ai.ClusterReady || status == ai.ClusterPendingForInput
}

func (s *Sim) updateCluster(w http.ResponseWriter, r *http.Request) {
	cl := s.findCluster(w, r)
	if cl == nil {
		return
	}
	var p ai.ClusterUpdateParams
	if !decode(w, r, &p) {
		return
	}
	if !preInstall(cl.c.Status) {
		writeError(w, http.StatusConflict, "Cluster "+cl.c.ID+" is in "+cl.c.Status+" state, cluster can be updated only in one of [insufficient ready pending-for-input adding-hosts]")
		return
	}
	if p.PullSecret != nil && pullSecretProblem(*p.PullSecret) != "" {
		writeError(w, http.StatusBadRequest, "pull secret for cluster is invalid: "+pullSecretProblem(*p.PullSecret))
		return
	}
	if problem := proxyProblem(p.HTTPProxy, p.HTTPSProxy, p.NoProxy); problem != "" {
		writeError(w, http.StatusBadRequest, problem)
		return
	}
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&cl.c.Name, p.Name)
	set(&cl.c.BaseDNSDomain, p.BaseDNSDomain)
	set(&cl.pullSecret, p.PullSecret)
	set(&cl.c.HTTPProxy, p.HTTPProxy)
	set(&cl.c.HTTPSProxy, p.HTTPSProxy)
	set(&cl.c.NoProxy, p.NoProxy)
	if p.APIVIPs != nil {
		cl.c.APIVIPs = withCluster(*p.APIVIPs, cl.c.ID)
	}
	if p.IngressVIPs != nil {
		cl.c.IngressVIPs = withCluster(*p.IngressVIPs, cl.c.ID)
	}
	if p.MachineNetworks != nil {
		cl.c.MachineNetworks = *p.MachineNetworks
	}
	if p.ClusterNetworks != nil {
		cl.c.ClusterNetworks = *p.ClusterNetworks
	}
	if p.ServiceNetworks != nil {
		cl.c.ServiceNetworks = *p.ServiceNetworks
	}
	for _, pair := range [][2][]ai.VIP{{cl.c.APIVIPs, cl.c.IngressVIPs}} {
		for _, a := range pair[0] {
			for _, b := range pair[1] {
				if a.IP == b.IP {
					writeError(w, http.StatusBadRequest, "The IP address "+a.IP+" appears both in apiVIPs and ingressVIPs")
					return
				}
			}
		}
	}
	cl.updatedAt = s.now()
	s.changed() // what this handler changed is evaluated now
	s.advanceCluster(cl, s.now())
	writeJSON(w, http.StatusCreated, s.clusterView(cl, true))
}

func (s *Sim) deleteCluster(w http.ResponseWriter, r *http.Request) {
	cl := s.findCluster(w, r)
	if cl == nil {
		return
	}
	switch cl.c.Status {
	case ai.ClusterPreparingForInstallation, ai.ClusterInstalling, ai.ClusterInstallingPendingAction, ai.ClusterFinalizing:
		writeError(w, http.StatusConflict, "Cluster "+cl.c.ID+" can not be deleted while being installed")
		return
	}
	for id, h := range s.hosts {
		if h.h.ClusterID != nil && *h.h.ClusterID == cl.c.ID {
			s.forgetHost(id)
		}
	}
	delete(s.clusters, cl.c.ID)
	s.event("", "", "info", "Deregistered cluster "+cl.c.ID, s.now())
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sim) installCluster(w http.ResponseWriter, r *http.Request) {
	cl := s.findCluster(w, r)
	if cl == nil {
		return
	}
	if cl.c.Status != ai.ClusterReady {
		var failing []string
		if v, err := ai.ParseValidations(cl.validations); err == nil {
			for _, f := range v.Failing() {
				failing = append(failing, f.Message)
			}
		}
		writeError(w, http.StatusConflict, fmt.Sprintf("Cluster is not ready for installation: cluster %s is in %s state. %s", cl.c.ID, cl.c.Status, strings.Join(failing, "; ")))
		return
	}
	now := s.now()
	cl.installStart = now
	hosts := s.clusterHosts(cl.c.ID)
	bootstrapDone := false
	for _, h := range hosts {
		if h.h.Role == ai.RoleAutoAssign {
			h.h.Role = h.h.SuggestedRole
		}
		if h.h.Role == ai.RoleMaster && !bootstrapDone {
			h.h.Bootstrap, bootstrapDone = true, true
		}
		h.h.Status, h.h.StatusInfo = "preparing-for-installation", "Host is preparing for installation"
	}
	s.setClusterStatus(cl, ai.ClusterPreparingForInstallation, "Preparing cluster for installation", now)
	writeJSON(w, http.StatusAccepted, s.clusterView(cl, true))
}

func (s *Sim) cancelCluster(w http.ResponseWriter, r *http.Request) {
	cl := s.findCluster(w, r)
	if cl == nil {
		return
	}
	switch cl.c.Status {
	case ai.ClusterPreparingForInstallation, ai.ClusterInstalling, ai.ClusterFinalizing, ai.ClusterError, ai.ClusterInstallingPendingAction:
	default:
		writeError(w, http.StatusConflict, "Cluster "+cl.c.ID+" is in "+cl.c.Status+" state, can't cancel the installation")
		return
	}
	for _, h := range s.clusterHosts(cl.c.ID) {
		h.h.Status, h.h.StatusInfo = "cancelled", "Installation was cancelled by user"
	}
	s.setClusterStatus(cl, ai.ClusterCancelled, "Canceled cluster installation", s.now())
	writeJSON(w, http.StatusAccepted, s.clusterView(cl, true))
}

func (s *Sim) resetCluster(w http.ResponseWriter, r *http.Request) {
	cl := s.findCluster(w, r)
	if cl == nil {
		return
	}
	if cl.c.Status != ai.ClusterCancelled && cl.c.Status != ai.ClusterError {
		writeError(w, http.StatusConflict, "Cluster "+cl.c.ID+" is in "+cl.c.Status+" state, can't reset it")
		return
	}
	for _, h := range s.clusterHosts(cl.c.ID) {
		h.h.Status, h.h.StatusInfo = "resetting-pending-user-action", "Host requires booting into the discovery image to complete resetting the installation"
		h.h.Progress, h.h.Bootstrap, h.stageIdx, h.poweredOff = nil, false, 0, false
	}
	cl.installStart, cl.finalizingStart = time.Time{}, time.Time{}
	cl.c.InstallCompletedAt = nil
	s.setClusterStatus(cl, ai.ClusterInsufficient, "Cluster is not ready for install", s.now())
	writeJSON(w, http.StatusAccepted, s.clusterView(cl, true))
}
