package aisim

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/coreos/ignition/v2/config/v3_2"
	"github.com/coreos/ignition/v2/config/v3_2/types"

	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
)

// parseOverride parses an ignition override as the service does (spec 3.2, else 3.1/3.0).
func parseOverride(text string) (types.Config, error) {
	cfg, rpt, err := v3_2.ParseCompatibleVersion([]byte(text))
	if err != nil {
		return types.Config{}, fmt.Errorf("error parsing ignition: %v %s", err, strings.TrimSpace(rpt.String()))
	}
	return cfg, nil
}

func (s *Sim) registerInfraEnv(w http.ResponseWriter, r *http.Request) {
	var p ai.InfraEnvCreateParams
	if !decode(w, r, &p) {
		return
	}
	if problem := pullSecretProblem(p.PullSecret); problem != "" {
		writeError(w, http.StatusBadRequest, "pull secret for new infraEnv is invalid: "+problem)
		return
	}
	if p.ClusterID != "" && s.clusters[p.ClusterID] == nil {
		writeError(w, http.StatusNotFound, "cluster "+p.ClusterID+" not found")
		return
	}
	if p.IgnitionConfigOverride != "" {
		if _, err := parseOverride(p.IgnitionConfigOverride); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	if !validNTPSources(p.AdditionalNTPSources) {
		writeError(w, http.StatusBadRequest, "Invalid NTP source: "+*p.AdditionalNTPSources)
		return
	}
	if problem := infraEnvProxyProblem(p.Proxy); problem != "" {
		writeError(w, http.StatusBadRequest, problem)
		return
	}
	p.AdditionalTrustBundle = strings.TrimSpace(p.AdditionalTrustBundle)
	if problem := trustBundleProblem(p.AdditionalTrustBundle); problem != "" {
		writeError(w, http.StatusBadRequest, problem)
		return
	}
	now := s.now()
	id := s.newID()
	imageType := p.ImageType
	if imageType == "" {
		imageType = "full-iso"
	}
	ie := &infraEnv{pullSecret: p.PullSecret, kernelArgs: p.KernelArguments, ie: ai.InfraEnv{
		ID: id, Kind: "InfraEnv", Href: base + "/infra-envs/" + id, Name: p.Name, Type: imageType,
		ClusterID: p.ClusterID, OpenshiftVersion: p.OpenshiftVersion, CPUArchitecture: "x86_64",
		IgnitionConfigOverride: p.IgnitionConfigOverride, PullSecretSet: true, CreatedAt: now, UpdatedAt: now,
	}}
	if p.AdditionalNTPSources != nil {
		ie.ie.AdditionalNTPSources = *p.AdditionalNTPSources
	}
	setInfraEnvProxy(ie, p.Proxy)
	ie.ie.AdditionalTrustBundle = p.AdditionalTrustBundle
	s.infraEnvs[id] = ie
	s.event(p.ClusterID, "", "info", "Registered infra env "+id, now)
	writeJSON(w, http.StatusCreated, s.infraEnvView(r, ie))
}

func (s *Sim) infraEnvView(r *http.Request, ie *infraEnv) ai.InfraEnv {
	v := ie.ie
	if len(ie.kernelArgs) > 0 {
		b, _ := json.Marshal(ie.kernelArgs)
		t := string(b)
		v.KernelArguments = &t
	}
	v.DownloadURL = s.isoURL(r, ie)
	exp := ie.ie.UpdatedAt.Add(s.timings.URLValidity)
	v.ExpiresAt = &exp
	return v
}

func (s *Sim) isoURL(r *http.Request, ie *infraEnv) string {
	return fmt.Sprintf("http://%s/images/%s/full.iso?image_token=sim-%d", r.Host, ie.ie.ID, ie.ie.UpdatedAt.UnixNano())
}

func (s *Sim) findInfraEnv(w http.ResponseWriter, r *http.Request) *infraEnv {
	ie := s.infraEnvs[r.PathValue("id")]
	if ie == nil {
		writeError(w, http.StatusNotFound, "infra env "+r.PathValue("id")+" not found")
	}
	return ie
}

func (s *Sim) getInfraEnv(w http.ResponseWriter, r *http.Request) {
	if ie := s.findInfraEnv(w, r); ie != nil {
		writeJSON(w, http.StatusOK, s.infraEnvView(r, ie))
	}
}

func (s *Sim) listInfraEnvs(w http.ResponseWriter, r *http.Request) {
	cid := r.URL.Query().Get("cluster_id")
	list := make([]*infraEnv, 0, len(s.infraEnvs))
	for _, ie := range s.infraEnvs {
		if cid == "" || ie.ie.ClusterID == cid {
			list = append(list, ie)
		}
	}
	sort.Slice(list, func(i, j int) bool {
		return list[i].ie.CreatedAt.Before(list[j].ie.CreatedAt) || (list[i].ie.CreatedAt.Equal(list[j].ie.CreatedAt) && list[i].ie.ID < list[j].ie.ID)
	})
	out := []ai.InfraEnv{}
	for _, ie := range list {
		out = append(out, s.infraEnvView(r, ie))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Sim) updateInfraEnv(w http.ResponseWriter, r *http.Request) {
	ie := s.findInfraEnv(w, r)
	if ie == nil {
		return
	}
	var p ai.InfraEnvUpdateParams
	if !decode(w, r, &p) {
		return
	}
	if problem := pullSecretProblem(p.PullSecret); p.PullSecret != "" && problem != "" {
		writeError(w, http.StatusBadRequest, "pull secret for infraEnv is invalid: "+problem)
		return
	}
	if !validNTPSources(p.AdditionalNTPSources) {
		writeError(w, http.StatusBadRequest, "Invalid NTP source: "+*p.AdditionalNTPSources)
		return
	}
	if problem := infraEnvProxyProblem(p.Proxy); problem != "" {
		writeError(w, http.StatusBadRequest, problem)
		return
	}
	if p.AdditionalTrustBundle != nil {
		*p.AdditionalTrustBundle = strings.TrimSpace(*p.AdditionalTrustBundle)
		if problem := trustBundleProblem(*p.AdditionalTrustBundle); problem != "" {
			writeError(w, http.StatusBadRequest, problem)
			return
		}
	}
	if p.IgnitionConfigOverride != "" {
		if _, err := parseOverride(p.IgnitionConfigOverride); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		ie.ie.IgnitionConfigOverride = p.IgnitionConfigOverride
	}
	if p.AdditionalTrustBundle != nil {
		ie.ie.AdditionalTrustBundle = *p.AdditionalTrustBundle
	}
	setInfraEnvProxy(ie, p.Proxy)
	if p.AdditionalNTPSources != nil {
		ie.ie.AdditionalNTPSources = *p.AdditionalNTPSources
	}
	if p.ImageType != "" {
		ie.ie.Type = p.ImageType
	}
	if p.KernelArguments != nil {
		ie.kernelArgs = *p.KernelArguments
	}
	if p.PullSecret != "" {
		ie.pullSecret = p.PullSecret
	}
	ie.ie.UpdatedAt = s.now()
	writeJSON(w, http.StatusCreated, s.infraEnvView(r, ie))
}

func (s *Sim) deleteInfraEnv(w http.ResponseWriter, r *http.Request) {
	ie := s.findInfraEnv(w, r)
	if ie == nil {
		return
	}
	if len(s.infraEnvHosts(ie.ie.ID)) > 0 {
		writeError(w, http.StatusConflict, "failed to deregister infra env "+ie.ie.ID+": it has hosts")
		return
	}
	delete(s.infraEnvs, ie.ie.ID)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sim) imageURL(w http.ResponseWriter, r *http.Request) {
	if ie := s.findInfraEnv(w, r); ie != nil {
		exp := s.now().Add(s.timings.URLValidity)
		writeJSON(w, http.StatusOK, ai.PresignedURL{URL: s.isoURL(r, ie), ExpiresAt: &exp})
	}
}

// infraEnvFile serves discovery.ign (the discovery config with the override merged in) and
// the iPXE script (discovery-image-always, or boot-order-control semantics with mac).
func (s *Sim) infraEnvFile(w http.ResponseWriter, r *http.Request) {
	ie := s.findInfraEnv(w, r)
	if ie == nil {
		return
	}
	q := r.URL.Query()
	switch q.Get("file_name") {
	case "discovery.ign":
		cfg := types.Config{Ignition: types.Ignition{Version: "3.2.0"}}
		cfg.Systemd.Units = []types.Unit{{Name: "agent.service", Enabled: boolp(true),
			Contents: strp("[Service]\nExecStart=/usr/local/bin/agent --infra-env-id " + ie.ie.ID + "\n[Install]\nWantedBy=multi-user.target\n")}}
		if ie.ie.IgnitionConfigOverride != "" {
			ov, err := parseOverride(ie.ie.IgnitionConfigOverride)
			if err != nil {
				writeError(w, http.StatusInternalServerError, err.Error())
				return
			}
			cfg = v3_2.Merge(cfg, ov)
		}
		b, _ := json.Marshal(cfg)
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(b)
	case "ipxe-script":
		mac := strings.ToLower(q.Get("mac"))
		if q.Get("ipxe_script_type") == "boot-order-control" && mac == "" {
			w.Header().Set("Content-Type", "application/octet-stream")
			fmt.Fprintf(w, "#!ipxe\nchain http://%s%s/infra-envs/%s/downloads/files?file_name=ipxe-script&ipxe_script_type=boot-order-control&mac=${net0/mac}\n", r.Host, base, ie.ie.ID)
			return
		}
		if mac != "" && q.Get("ipxe_script_type") == "boot-order-control" {
			if h := s.hostByMAC(mac); h != nil && pastDiskWrite(h) {
				writeError(w, http.StatusNotFound, "host "+h.h.ID+" boots from disk")
				return
			}
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		fmt.Fprintf(w, "#!ipxe\ninitrd --name initrd http://%[1]s/images/%[2]s/pxe-initrd?arch=x86_64&version=%[3]s\nkernel http://%[1]s/boot-artifacts/kernel?arch=x86_64&version=%[3]s initrd=initrd coreos.live.rootfs_url=http://%[1]s/boot-artifacts/rootfs?arch=x86_64&version=%[3]s random.trust_cpu=on rd.luks.options=discard ignition.firstboot ignition.platform.id=metal console=tty1 console=ttyS1,115200n8 coreos.inst.persistent-kargs=\"console=tty1 console=ttyS1,115200n8\"%[4]s\nboot\n",
			r.Host, ie.ie.ID, ie.ie.OpenshiftVersion, kargs(ie.kernelArgs))
	default:
		writeError(w, http.StatusBadRequest, "unsupported file "+q.Get("file_name"))
	}
}

// ntpHostnameRE is the service's host-name rule for an NTP source.
var ntpHostnameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{0,61}[a-z0-9]$`)

// validNTPSources checks additional_ntp_sources as the service does: absent or empty, or a
// comma-separated list of IP addresses and lower-case host names.
func validNTPSources(list *string) bool {
	if list == nil || *list == "" {
		return true
	}
	for _, src := range strings.Split(*list, ",") {
		if net.ParseIP(src) == nil && !ntpHostnameRE.MatchString(src) {
			return false
		}
	}
	return true
}

func kargs(list []ai.KernelArgument) string {
	var b strings.Builder
	for _, k := range list {
		if k.Operation == "append" {
			b.WriteString(" " + k.Value)
		}
	}
	return b.String()
}

func pastDiskWrite(h *host) bool {
	switch h.h.Status {
	case "installed":
		return true
	case "installing-in-progress", hostPendingUserAction:
		return h.stageIdx > 2 // past "Writing image to disk"
	}
	return false
}

func (s *Sim) serveBootArtifact(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/octet-stream")
	fmt.Fprintf(w, "AISIM-BOOT-ARTIFACT %s\n", r.URL.Path)
}

func boolp(b bool) *bool    { return &b }
func strp(s string) *string { return &s }
