package aisim

import "net/http"

const base = "/api/assisted-install/v2"

func (s *Sim) routes() {
	m := http.NewServeMux()
	h := func(pattern string, f func(http.ResponseWriter, *http.Request)) {
		m.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.advance()
			if id := r.PathValue("host"); id != "" {
				s.hostCall(id)
			}
			f(w, r)
			if r.Method != http.MethodGet {
				s.changed() // the next advance evaluates what the handler changed
			}
		})
	}
	h("POST "+base+"/clusters", s.registerCluster)
	h("GET "+base+"/clusters", s.listClusters)
	h("GET "+base+"/clusters/{id}", s.getCluster)
	h("PATCH "+base+"/clusters/{id}", s.updateCluster)
	h("DELETE "+base+"/clusters/{id}", s.deleteCluster)
	h("POST "+base+"/clusters/{id}/actions/install", s.installCluster)
	h("POST "+base+"/clusters/{id}/actions/cancel", s.cancelCluster)
	h("POST "+base+"/clusters/{id}/actions/reset", s.resetCluster)
	h("POST "+base+"/clusters/{id}/actions/allow-add-hosts", s.allowAddHosts)
	h("GET "+base+"/clusters/{id}/install-config", s.getInstallConfig)
	h("PATCH "+base+"/clusters/{id}/install-config", s.updateInstallConfig)
	h("GET "+base+"/clusters/{id}/hosts", s.listClusterHosts)
	h("GET "+base+"/clusters/{id}/preflight-requirements", s.preflightRequirements)
	h("GET "+base+"/clusters/{id}/manifests", s.listManifests)
	h("POST "+base+"/clusters/{id}/manifests", s.createManifest)
	h("DELETE "+base+"/clusters/{id}/manifests", s.deleteManifest)
	h("GET "+base+"/clusters/{id}/manifests/files", s.downloadManifest)
	h("GET "+base+"/clusters/{id}/downloads/credentials", s.downloadCredentials)
	h("GET "+base+"/clusters/{id}/credentials", s.getCredentials)
	h("GET "+base+"/clusters/{id}/logs", s.downloadClusterLogs)
	h("POST "+base+"/infra-envs", s.registerInfraEnv)
	h("GET "+base+"/infra-envs", s.listInfraEnvs)
	h("GET "+base+"/infra-envs/{id}", s.getInfraEnv)
	h("PATCH "+base+"/infra-envs/{id}", s.updateInfraEnv)
	h("DELETE "+base+"/infra-envs/{id}", s.deleteInfraEnv)
	h("GET "+base+"/infra-envs/{id}/downloads/image-url", s.imageURL)
	h("GET "+base+"/infra-envs/{id}/downloads/files", s.infraEnvFile)
	h("GET "+base+"/infra-envs/{id}/hosts", s.listInfraEnvHosts)
	h("GET "+base+"/infra-envs/{id}/hosts/{host}", s.getHost)
	h("PATCH "+base+"/infra-envs/{id}/hosts/{host}", s.updateHost)
	h("DELETE "+base+"/infra-envs/{id}/hosts/{host}", s.deleteHost)
	h("POST "+base+"/infra-envs/{id}/hosts/{host}/actions/install", s.installHost)
	h("GET "+base+"/events", s.listEvents)
	h("GET "+base+"/openshift-versions", s.openshiftVersions)
	// Artifacts outside the API (what presigned URLs and the iPXE script point at).
	h("GET /images/{id}/full.iso", s.serveISO)
	h("GET /boot-artifacts/{name}", s.serveBootArtifact)
	h("GET /images/{id}/pxe-initrd", s.serveBootArtifact)
	s.mux = m
}
