package aisim

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"

	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
)

// hostView renders a host with its computed progress.
func (s *Sim) hostView(h *host) ai.Host {
	v := h.h
	if v.ClusterID != nil {
		c := *v.ClusterID
		v.ClusterID = &c
	}
	b, _ := json.Marshal(h.labels)
	v.NodeLabels = string(b)
	switch v.Status {
	case "installing-in-progress", ai.HostAddedToExistingCluster:
		if h.day2() {
			stage := stages[h.stageIdx]
			v.Progress = &ai.HostProgress{CurrentStage: stage, InstallationPercentage: min(100, 100*h.stageIdx/(len(day2Stages)-1))}
			if v.Status == "installing-in-progress" {
				v.StatusInfo = stage
			}
			break
		}
		fallthrough
	case "installed", hostPendingUserAction:
		stage := stages[h.stageIdx]
		v.Progress = &ai.HostProgress{CurrentStage: stage, InstallationPercentage: 100 * h.stageIdx / (len(stages) - 1)}
		if v.Status == "installing-in-progress" {
			v.StatusInfo = stage
		}
	case "preparing-for-installation", "preparing-successful":
		v.Progress = &ai.HostProgress{}
	default:
		if v.Progress == nil {
			v.Progress = &ai.HostProgress{}
		}
	}
	return v
}

// suggestRoles fills suggested_role: explicit roles stand, auto-assign hosts fill the
// missing masters in registration order, then become workers.
func suggestRoles(hosts []*host, need int) {
	masters := 0
	for _, h := range hosts {
		if h.h.Role == ai.RoleMaster {
			masters++
		}
	}
	for _, h := range hosts {
		switch h.h.Role {
		case ai.RoleAutoAssign:
			if masters < need {
				h.h.SuggestedRole = ai.RoleMaster
				masters++
			} else {
				h.h.SuggestedRole = ai.RoleWorker
			}
		default:
			h.h.SuggestedRole = h.h.Role
		}
	}
}

func (s *Sim) listInfraEnvHosts(w http.ResponseWriter, r *http.Request) {
	out := []ai.Host{}
	for _, h := range s.infraEnvHosts(r.PathValue("id")) {
		out = append(out, s.hostView(h))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Sim) listClusterHosts(w http.ResponseWriter, r *http.Request) {
	if s.findCluster(w, r) == nil {
		return
	}
	role := r.URL.Query().Get("role")
	out := []ai.Host{}
	for _, h := range s.clusterHosts(r.PathValue("id")) {
		if role == "" || h.h.Role == role {
			out = append(out, s.hostView(h))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Sim) findHost(w http.ResponseWriter, r *http.Request) *host {
	h := s.hosts[r.PathValue("host")]
	if h == nil || h.h.InfraEnvID != r.PathValue("id") {
		writeError(w, http.StatusNotFound, "host "+r.PathValue("host")+" not found in infra-env "+r.PathValue("id"))
		return nil
	}
	return h
}

func (s *Sim) getHost(w http.ResponseWriter, r *http.Request) {
	if h := s.findHost(w, r); h != nil {
		writeJSON(w, http.StatusOK, s.hostView(h))
	}
}

// Kubernetes label syntax (qualified name key, value up to 63 chars).
var (
	labelName   = regexp.MustCompile(`^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$`)
	labelPrefix = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	hostnameRe  = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
)

func validLabel(l ai.NodeLabel) bool {
	key := l.Key
	if prefix, name, ok := strings.Cut(key, "/"); ok {
		if len(prefix) > 253 || !labelPrefix.MatchString(prefix) {
			return false
		}
		key = name
	}
	if len(key) == 0 || len(key) > 63 || !labelName.MatchString(key) {
		return false
	}
	return l.Value == "" || (len(l.Value) <= 63 && labelName.MatchString(l.Value))
}

func (s *Sim) updateHost(w http.ResponseWriter, r *http.Request) {
	h := s.findHost(w, r)
	if h == nil {
		return
	}
	var p ai.HostUpdateParams
	if !decode(w, r, &p) {
		return
	}
	switch h.h.Status {
	case "known", "insufficient", "discovering", "pending-for-input", "known-unbound":
	default:
		writeError(w, http.StatusConflict, "Host is in "+h.h.Status+" state, host can be updated only in one of [known insufficient discovering pending-for-input]")
		return
	}
	if p.HostName != nil && (!hostnameRe.MatchString(*p.HostName) || len(*p.HostName) > 63) {
		writeError(w, http.StatusBadRequest, "hostname "+*p.HostName+" is invalid")
		return
	}
	if p.NodeLabels != nil {
		for _, l := range *p.NodeLabels {
			if !validLabel(l) {
				writeError(w, http.StatusBadRequest, "invalid node label "+l.Key+"="+l.Value)
				return
			}
		}
	}
	if why := s.selectDisks(h, p); why != "" {
		writeError(w, http.StatusBadRequest, why)
		return
	}
	if p.HostName != nil {
		h.h.RequestedHostname = *p.HostName
	}
	if p.HostRole != nil {
		h.h.Role = *p.HostRole
	}
	if p.NodeLabels != nil {
		h.labels = map[string]string{}
		for _, l := range *p.NodeLabels {
			h.labels[l.Key] = l.Value
		}
	}
	if h.h.ClusterID != nil {
		if cl := s.clusters[*h.h.ClusterID]; cl != nil {
			s.changed() // what this handler changed is evaluated now
			s.advanceCluster(cl, s.now())
		}
	}
	writeJSON(w, http.StatusCreated, s.hostView(h))
}

func (s *Sim) deleteHost(w http.ResponseWriter, r *http.Request) {
	h := s.findHost(w, r)
	if h == nil {
		return
	}
	s.forgetHost(h.h.ID)
	w.WriteHeader(http.StatusNoContent)
}
