package appliance

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/doctor"
	"github.com/cn2-appliance/cn2-appliance/pkg/report"
	"github.com/prometheus/client_golang/prometheus"
)

// TestRunReportAfterTheInstall: when the install ends, a run report lands in the state
// folder. Unpacked, it holds every part (the installer's logs included), each node's
// timeline, and none of the lab's secrets: not the pull secret or its auths, not the offline
// token, not a BMC password, in any file (the installer's log archive unpacked too). With a
// proxy password and a discovery console password, the installer keeps both (in its proxy
// URLs and its ignition override): the report has neither.
func TestRunReportAfterTheInstall(t *testing.T) {
	t.Run("example", func(t *testing.T) {
		lab, _, a, start := simLab(t, "FAKE-EXAMPLE-OFFLINE-TOKEN-not-a-real-token")
		checkRunReport(t, lab, a, start, nil)
	})
	t.Run("proxy and console password", func(t *testing.T) {
		lab := exampleLab(t)
		lab.Proxy.HTTPProxy, lab.Proxy.HTTPSProxy = "http://lab@127.0.0.1:3128", "http://lab@127.0.0.1:3128"
		lab.Proxy.Password = config.NewSecret([]byte("proxy-password-in-no-report"))
		lab.Cluster.DiscoveryPasswordHash = config.NewSecret([]byte("$6$saltsalt$console-hash-in-no-report"))
		lab, _, a, start := simLabWith(t, lab, doctor.Names(), "FAKE-EXAMPLE-OFFLINE-TOKEN-not-a-real-token")
		// Looked for by value, not only through ReportSecrets: the scan must not depend on
		// the list it checks.
		checkRunReport(t, lab, a, start, [][]byte{[]byte("proxy-password-in-no-report"), []byte("console-hash-in-no-report")})
	})
}

// checkRunReport waits for the report of the finished install and checks its parts and
// that none holds a secret: those of ReportSecrets(lab), and also.
func checkRunReport(t *testing.T, lab *config.Lab, a *Appliance, start func(), also [][]byte) {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(flowCollector{a})
	a.opts.Gatherer = reg
	start()
	dir := filepath.Join(a.stateDir(), ReportDir)
	var files []string
	waitFor(t, "the run report of the finished install", func() bool {
		files, _ = filepath.Glob(filepath.Join(dir, "report-*-installed.tar.gz"))
		return len(files) == 1
	})
	if info, err := os.Stat(files[0]); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("report file %v %v, want mode 0600", info, err)
	}
	f, err := os.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	parts, _, err := report.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{ReportLabFile, ReportLab, ReportPlan, ReportSteps, ReportStatus, ReportEvents, ReportCluster,
		ReportInfraEnv, ReportHosts, ReportLogs, ReportLeases, ReportManifests, ReportVersion, ReportMetrics, report.IndexName}
	for _, n := range lab.Nodes {
		want = append(want, ReportTimelines+n.Name+".json")
	}
	var ix report.Index
	if err := json.Unmarshal(parts[report.IndexName], &ix); err != nil {
		t.Fatal(err)
	}
	for _, name := range want {
		if len(parts[name]) == 0 {
			t.Errorf("the report lacks %s (missing: %+v)", name, ix.Missing)
		}
	}
	if _, ok := parts[ReportDoctor]; !ok && !slices.ContainsFunc(ix.Missing, func(m report.Missing) bool { return m.Name == ReportDoctor }) {
		t.Errorf("doctor.json is neither there nor listed as missing")
	}
	for _, p := range ix.Parts {
		if p.Scrubbed != 0 {
			t.Errorf("part %s held %d secret values (scrubbed): a secret reached it", p.Name, p.Scrubbed)
		}
	}
	if !bytes.Contains(parts[ReportManifests], []byte("99-network-configmap.yaml")) || !bytes.Contains(parts[ReportMetrics], []byte("cn2_appliance_")) {
		t.Errorf("manifests:\n%s", parts[ReportManifests])
	}
	var nt struct {
		Milestones []json.RawMessage `json:"milestones"`
		Installed  string            `json:"installed"`
	}
	if err := json.Unmarshal(parts[ReportTimelines+"master-0.json"], &nt); err != nil || len(nt.Milestones) == 0 || nt.Installed == "" {
		t.Errorf("master-0's timeline in the report: %v %s", err, parts[ReportTimelines+"master-0.json"])
	}

	// The secret scan: every file, and the installer's log archive unpacked.
	scan := map[string][]byte{}
	for name, data := range parts {
		scan[name] = data
	}
	gz, err := gzip.NewReader(bytes.NewReader(parts[ReportLogs]))
	if err != nil {
		t.Fatal(err)
	}
	logs, _ := io.ReadAll(gz)
	scan[ReportLogs+" (unpacked)"] = logs
	secrets := append(ReportSecrets(lab), also...)
	if len(secrets) < 3+len(lab.Nodes)-1 {
		t.Fatalf("only %d secrets to look for", len(secrets))
	}
	for name, data := range scan {
		for _, s := range secrets {
			if s = bytes.TrimSpace(s); len(s) > 0 && bytes.Contains(data, s) {
				t.Errorf("%s holds a secret (%.6s...)", name, s)
			}
		}
	}
}
