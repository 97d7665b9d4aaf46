package aisim

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
)

// installConfigKeys are the top-level keys of the installer's InstallConfig the service
// accepts in an override (it decodes with unknown fields disallowed).
var installConfigKeys = map[string]bool{
	"apiVersion": true, "baseDomain": true, "metadata": true, "networking": true, "compute": true,
	"controlPlane": true, "platform": true, "proxy": true, "additionalTrustBundle": true,
	"additionalTrustBundlePolicy": true, "imageContentSources": true, "imageDigestSources": true,
	"fips": true, "sshKey": true, "pullSecret": true, "publish": true, "capabilities": true,
	"featureSet": true, "cpuPartitioningMode": true, "bootstrapInPlace": true, "arbiter": true,
}

var networkingKeys = map[string]bool{
	"networkType": true, "clusterNetwork": true, "serviceNetwork": true, "machineNetwork": true,
	"clusterNetworkMTU": true, "ovnKubernetesConfig": true,
}

func (s *Sim) installConfig(cl *cluster) map[string]any {
	cn := []any{}
	for _, n := range cl.c.ClusterNetworks {
		cn = append(cn, map[string]any{"cidr": n.CIDR, "hostPrefix": n.HostPrefix})
	}
	sn := []any{}
	for _, n := range cl.c.ServiceNetworks {
		sn = append(sn, n.CIDR)
	}
	mn := []any{}
	for _, n := range cl.c.MachineNetworks {
		mn = append(mn, map[string]any{"cidr": n.CIDR})
	}
	ic := map[string]any{
		"apiVersion": "v1", "baseDomain": cl.c.BaseDNSDomain,
		"metadata": map[string]any{"name": cl.c.Name},
		"networking": map[string]any{"networkType": *cl.c.NetworkType, "clusterNetwork": cn,
			"serviceNetwork": sn, "machineNetwork": mn},
		"controlPlane": map[string]any{"name": "master", "replicas": cl.controlPlaneCount, "hyperthreading": "Enabled"},
		"platform":     map[string]any{"baremetal": map[string]any{}},
	}
	if cl.c.InstallConfigOverrides != "" {
		var ov map[string]any
		if json.Unmarshal([]byte(cl.c.InstallConfigOverrides), &ov) == nil {
			mergeMaps(ic, ov)
		}
	}
	return ic
}

func mergeMaps(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				mergeMaps(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

func (s *Sim) getInstallConfig(w http.ResponseWriter, r *http.Request) {
	cl := s.findCluster(w, r)
	if cl == nil {
		return
	}
	y, err := yaml.Marshal(s.installConfig(cl))
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, string(y))
}

func (s *Sim) updateInstallConfig(w http.ResponseWriter, r *http.Request) {
	cl := s.findCluster(w, r)
	if cl == nil {
		return
	}
	var text string
	if !decode(w, r, &text) {
		return
	}
	var ov map[string]any
	if err := json.Unmarshal([]byte(text), &ov); err != nil {
		writeError(w, http.StatusBadRequest, "Failed to unmarshal install config overrides: "+err.Error())
		return
	}
	for k, v := range ov {
		if !installConfigKeys[k] {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("json: unknown field %q", k))
			return
		}
		if k == "networking" {
			m, ok := v.(map[string]any)
			if !ok {
				writeError(w, http.StatusBadRequest, "networking must be an object")
				return
			}
			for nk := range m {
				if !networkingKeys[nk] {
					writeError(w, http.StatusBadRequest, fmt.Sprintf("json: unknown field %q", nk))
					return
				}
			}
		}
	}
	if !preInstall(cl.c.Status) {
		writeError(w, http.StatusBadRequest, "Cluster "+cl.c.ID+" is in "+cl.c.Status+" state, install config can be updated only before installation")
		return
	}
	cl.c.InstallConfigOverrides = text // replaces the whole previous override
	s.event(cl.c.ID, "", "info", "Custom install config was applied to the cluster", s.now())
	w.WriteHeader(http.StatusCreated)
}

var manifestName = regexp.MustCompile(`^[^\/]*\.(json|ya?ml(\.patch_?[a-zA-Z0-9_]*)?)$`)

func (s *Sim) createManifest(w http.ResponseWriter, r *http.Request) {
	cl := s.findCluster(w, r)
	if cl == nil {
		return
	}
	var p ai.CreateManifestParams
	if !decode(w, r, &p) {
		return
	}
	if p.Folder == "" {
		p.Folder = ai.FolderManifests
	}
	content, err := base64.StdEncoding.DecodeString(p.Content)
	var parsed any
	switch {
	case !preInstall(cl.c.Status):
		writeError(w, http.StatusConflict, "Cluster "+cl.c.ID+" is in "+cl.c.Status+" state, manifests can be changed only before installation")
		return
	case !manifestName.MatchString(p.FileName):
		writeError(w, http.StatusBadRequest, "Manifest filename "+p.FileName+" is not valid")
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, "failed to base64-decode cluster manifest content")
		return
	case len(content) > 1<<20:
		writeError(w, http.StatusBadRequest, "Manifest content of file "+p.FileName+" exceeds the maximum file size of 1MiB")
		return
	case yaml.Unmarshal(content, &parsed) != nil:
		writeError(w, http.StatusBadRequest, "Manifest content of file "+p.FileName+" has an invalid YAML format")
		return
	}
	other := ai.FolderOpenshift
	if p.Folder == ai.FolderOpenshift {
		other = ai.FolderManifests
	}
	if _, dup := cl.manifests[other+"/"+p.FileName]; dup {
		writeError(w, http.StatusBadRequest, "manifest "+p.FileName+" already exists in folder "+other)
		return
	}
	cl.manifests[p.Folder+"/"+p.FileName] = manifest{folder: p.Folder, name: p.FileName, content: content}
	writeJSON(w, http.StatusCreated, ai.Manifest{Folder: p.Folder, FileName: p.FileName, ManifestSource: "user"})
}

func (s *Sim) listManifests(w http.ResponseWriter, r *http.Request) {
	cl := s.findCluster(w, r)
	if cl == nil {
		return
	}
	keys := make([]string, 0, len(cl.manifests))
	for k := range cl.manifests {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := []ai.Manifest{}
	for _, k := range keys {
		m := cl.manifests[k]
		out = append(out, ai.Manifest{Folder: m.folder, FileName: m.name, ManifestSource: "user"})
	}
	writeJSON(w, http.StatusOK, out)
}

// manifestKey is the folder/file_name a manifest request names (folder defaults to manifests).
func manifestKey(r *http.Request) string {
	folder := r.URL.Query().Get("folder")
	if folder == "" {
		folder = ai.FolderManifests
	}
	return folder + "/" + r.URL.Query().Get("file_name")
}

// downloadManifest serves one manifest's content (any cluster state, as the service does).
func (s *Sim) downloadManifest(w http.ResponseWriter, r *http.Request) {
	cl := s.findCluster(w, r)
	if cl == nil {
		return
	}
	key := manifestKey(r)
	m, ok := cl.manifests[key]
	if !ok {
		writeError(w, http.StatusNotFound, "Cluster manifest "+key+" was not found")
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(m.content)
}

func (s *Sim) deleteManifest(w http.ResponseWriter, r *http.Request) {
	cl := s.findCluster(w, r)
	if cl == nil {
		return
	}
	key := manifestKey(r)
	if _, ok := cl.manifests[key]; !ok {
		writeError(w, http.StatusNotFound, "manifest "+key+" not found")
		return
	}
	if !preInstall(cl.c.Status) {
		writeError(w, http.StatusConflict, "manifests can be changed only before installation")
		return
	}
	delete(cl.manifests, key)
	w.WriteHeader(http.StatusOK)
}

// Manifest returns the content of an uploaded manifest (for tests).
func (s *Sim) Manifest(clusterID, folder, name string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cl := s.clusters[clusterID]
	if cl == nil {
		return nil, false
	}
	m, ok := cl.manifests[folder+"/"+name]
	return m.content, ok
}

func (s *Sim) downloadCredentials(w http.ResponseWriter, r *http.Request) {
	cl := s.findCluster(w, r)
	if cl == nil {
		return
	}
	if cl.c.Status != ai.ClusterInstalled && cl.c.Status != ai.ClusterFinalizing {
		writeError(w, http.StatusConflict, "Cluster "+cl.c.ID+" is in "+cl.c.Status+" state, credentials are available only once it is installing its last stage or installed")
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	switch r.URL.Query().Get("file_name") {
	case "kubeadmin-password":
		fmt.Fprintf(w, "sim-%s", cl.c.ID[:8])
	default:
		fmt.Fprintf(w, "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://api.%s.%s:6443\n  name: %s\ncontexts:\n- context:\n    cluster: %s\n    user: admin\n  name: admin\ncurrent-context: admin\nusers:\n- name: admin\n  user:\n    token: aisim\n",
			cl.c.Name, cl.c.BaseDNSDomain, cl.c.Name, cl.c.Name)
	}
}

func (s *Sim) getCredentials(w http.ResponseWriter, r *http.Request) {
	cl := s.findCluster(w, r)
	if cl == nil {
		return
	}
	if cl.c.Status != ai.ClusterInstalled && cl.c.Status != ai.ClusterFinalizing {
		writeError(w, http.StatusConflict, "Cluster "+cl.c.ID+" is not installed yet")
		return
	}
	writeJSON(w, http.StatusOK, ai.Credentials{Username: "kubeadmin", Password: "sim-" + cl.c.ID[:8],
		ConsoleURL: "https://console-openshift-console.apps." + cl.c.Name + "." + cl.c.BaseDNSDomain})
}

func (s *Sim) listEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	match := func(p *string, want string) bool { return want == "" || (p != nil && *p == want) }
	out := []ai.Event{}
	for _, e := range s.events {
		if match(e.ClusterID, q.Get("cluster_id")) && match(e.HostID, q.Get("host_id")) && match(e.InfraEnvID, q.Get("infra_env_id")) {
			out = append(out, e)
		}
	}
	total := len(out)
	if off, _ := strconv.Atoi(q.Get("offset")); off > 0 {
		out = out[min(off, len(out)):]
	}
	if lim, _ := strconv.Atoi(q.Get("limit")); lim > 0 && lim < len(out) {
		out = out[:lim]
	}
	w.Header().Set("Event-Count", strconv.Itoa(total))
	writeJSON(w, http.StatusOK, out)
}

func (s *Sim) openshiftVersions(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, versions)
}
