package aisim

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"time"
)

// downloadClusterLogs is V2DownloadClusterLogs: a gzipped tar of the logs the hosts' agents
// uploaded, one file per host (logs_type host or all; host_id narrows to one host) plus the
// controller's (controller or all). As at the real service, there are none before the install
// starts: the agents upload their logs while installing (404 until then).
func (s *Sim) downloadClusterLogs(w http.ResponseWriter, r *http.Request) {
	cl := s.findCluster(w, r)
	if cl == nil {
		return
	}
	q := r.URL.Query()
	kind := q.Get("logs_type")
	switch kind {
	case "", "host", "controller", "all":
	default:
		writeError(w, http.StatusBadRequest, "logs_type must be one of [host controller all]")
		return
	}
	if cl.installStart.IsZero() {
		writeError(w, http.StatusNotFound, "no logs for cluster "+cl.c.ID+": its hosts upload them once the install starts")
		return
	}
	hostID := q.Get("host_id")
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	add := func(name, body string) {
		_ = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: s.now(), Typeflag: tar.TypeReg})
		_, _ = tw.Write([]byte(body))
	}
	found := hostID == ""
	if kind != "controller" {
		for _, h := range s.clusterHosts(cl.c.ID) {
			if hostID != "" && h.h.ID != hostID {
				continue
			}
			found = true
			add(fmt.Sprintf("%s_%s/agent.log", h.h.RequestedHostname, h.h.ID),
				fmt.Sprintf("%s host %s (%s): status %s, stage %q\n", s.now().UTC().Format(time.RFC3339), h.h.ID, h.h.RequestedHostname, h.h.Status, stage(h)))
		}
	}
	if !found {
		writeError(w, http.StatusNotFound, "host "+hostID+" is not in cluster "+cl.c.ID)
		return
	}
	if (kind == "controller" || kind == "all") && hostID == "" {
		add("controller_logs/assisted-installer-controller.log",
			fmt.Sprintf("%s cluster %s: status %s\n", s.now().UTC().Format(time.RFC3339), cl.c.ID, cl.c.Status))
	}
	_ = tw.Close()
	_ = gz.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", "attachment; filename="+cl.c.Name+"_logs.tar.gz")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

func stage(h *host) string {
	if h.h.Progress == nil {
		return ""
	}
	return h.h.Progress.CurrentStage
}
