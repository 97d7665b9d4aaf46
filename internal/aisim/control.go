package aisim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// serveControl is the test hook API of a standalone simulator (loopback only):
//
//	POST /_sim/boot        {"macs":["52:54:..."],"ips":["172.16.0.11/24"],"hostname":"master-0","hardware":{...}}
//	POST /_sim/power-on    {"mac":"52:54:..."}
//	POST /_sim/power-off-on-reboot {"mac":"52:54:..."}
//	POST /_sim/discovery-after-write {"mac":"52:54:..."}
//	GET  /_sim/powered-off?mac=52:54:...   → {"off":true,"registered":true}
//	POST /_sim/faults      {"error_rate":0.2,"latency_ms":50}
//	POST /_sim/expire-tokens
//	GET  /_sim/counts      → {"clusters":1,"infra_envs":1,"hosts":5}
func (s *Sim) serveControl(w http.ResponseWriter, r *http.Request) {
	var in struct {
		MACs      []string  `json:"macs"`
		IPs       []string  `json:"ips"`
		Hostname  string    `json:"hostname"`
		MAC       string    `json:"mac"`
		ErrorRate float64   `json:"error_rate"`
		LatencyMS int       `json:"latency_ms"`
		Hardware  *Hardware `json:"hardware"`
	}
	if r.Method == http.MethodPost && r.ContentLength != 0 {
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	path := strings.TrimPrefix(r.URL.Path, "/_sim")
	switch r.Method + " " + path {
	case "POST /boot":
		if err := s.NodeBooted(Node{MACs: in.MACs, IPs: in.IPs, Hostname: in.Hostname, Hardware: in.Hardware}); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
	case "POST /power-on":
		s.NodePoweredOn(in.MAC)
	case "POST /power-off-on-reboot":
		s.PowerOffOnReboot(in.MAC)
	case "POST /discovery-after-write":
		s.BootDiscoveryAfterWrite(in.MAC)
	case "GET /powered-off":
		mac := r.URL.Query().Get("mac")
		writeJSON(w, http.StatusOK, map[string]bool{"off": s.PoweredOff(mac), "registered": s.HostRegistered(mac)})
		return
	case "POST /faults":
		s.SetFaults(Faults{ErrorRate: in.ErrorRate, Latency: time.Duration(in.LatencyMS) * time.Millisecond})
	case "POST /expire-tokens":
		s.ExpireAccessTokens()
	case "GET /counts":
		c, i, h := s.Counts()
		writeJSON(w, http.StatusOK, map[string]int{"clusters": c, "infra_envs": i, "hosts": h})
		return
	default:
		http.Error(w, "unknown control "+strconv.Quote(r.Method+" "+path), http.StatusNotFound)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
