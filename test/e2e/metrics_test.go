package e2e

import (
	"bytes"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestMetricsPromtool fetches /metrics from a rehearsal once its nodes have netbooted and the
// install runs (so the DHCP, DNS, TFTP, HTTP boot, PXE profile and installer client metrics
// have samples) and has Prometheus' own linter, `promtool check metrics`, read it: any
// complaint fails the test. It also holds the output to the project's conventions: every
// family of ours is named cn2_appliance_*, and no label carries a MAC address.
func TestMetricsPromtool(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a rehearsal")
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("needs promtool on PATH (Debian package prometheus; scripts/install-test-deps.sh installs it)")
	}
	r := startRehearsal(t, 0.02)

	// Wait until the install runs: by then every node has netbooted through DHCP, TFTP and
	// HTTP and the installer client has done most of its kinds of calls.
	installing := false
	for range 1200 {
		if s, err := r.snapshot(); err == nil {
			for _, st := range s.Steps {
				if st.Name == "watch-install" && st.State != "pending" {
					installing = true
				}
			}
		}
		if installing || r.exited() {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !installing {
		t.Fatalf("the install never started:\n%s", r.out.String())
	}

	resp, err := http.Get(r.url + "metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s %v", resp.Status, err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("/metrics Content-Type %q, want the Prometheus text format", ct)
	}

	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	} else {
		t.Logf("promtool check metrics: no complaints about %d lines", bytes.Count(body, []byte("\n")))
	}

	families := map[string]string{} // name -> type
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (\S+) (\S+)$`).FindAllStringSubmatch(string(body), -1) {
		families[m[1]] = m[2]
	}
	for name := range families {
		if !strings.HasPrefix(name, "cn2_appliance_") && !strings.HasPrefix(name, "go_") &&
			!strings.HasPrefix(name, "process_") && !strings.HasPrefix(name, "promhttp_") {
			t.Errorf("metric family %s lacks the cn2_appliance_ prefix", name)
		}
	}
	// What the rehearsal has exercised by now must be there, with samples.
	for _, name := range []string{
		"cn2_appliance_dhcp_messages_total",
		"cn2_appliance_dhcp_leases_active",
		"cn2_appliance_dns_dynamic_names",
		"cn2_appliance_tftp_transfers_total",
		"cn2_appliance_pxe_requests_total",
		"cn2_appliance_http_sent_bytes_total",
		"cn2_appliance_ai_requests_total",
		"cn2_appliance_flow_step",
		"cn2_appliance_flow_current_step",
		"cn2_appliance_flow_step_attempts",
		"cn2_appliance_cluster_progress_ratio",
		"cn2_appliance_installer_hosts",
	} {
		if _, ok := families[name]; !ok {
			t.Errorf("/metrics lacks %s", name)
		} else if !regexp.MustCompile(`(?m)^` + name + `[{ ]`).Match(body) {
			t.Errorf("/metrics has no sample of %s", name)
		}
	}
	mac := regexp.MustCompile(`="(?i:[0-9a-f]{2}[:-]){5}[0-9a-f]{2}"`)
	if m := mac.Find(body); m != nil {
		t.Errorf("a metric label carries a MAC address (%s): labels must stay low-cardinality", m)
	}
}
