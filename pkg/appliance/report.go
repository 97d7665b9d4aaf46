package appliance

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/atomicfile"
	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/flow"
	"github.com/cn2-appliance/cn2-appliance/pkg/report"
	"github.com/cn2-appliance/cn2-appliance/pkg/status"
	"github.com/prometheus/common/expfmt"
)

// Report parts the appliance writes (the CLI adds auth/ with --with-credentials).
const (
	ReportLabFile     = "lab.yaml"
	ReportLab         = "lab.json"
	ReportPlan        = "plan.json"
	ReportSteps       = "steps.json"
	ReportStatus      = "status.json"
	ReportEvents      = "events.json"
	ReportTimelines   = "timelines/" // one <node>.json each
	ReportCluster     = "installer/cluster.json"
	ReportInfraEnv    = "installer/infra-env.json"
	ReportHosts       = "installer/hosts.json"
	ReportLogs        = "installer/logs.tar.gz"
	ReportDoctor      = "doctor.json"
	ReportLeases      = "dhcp-leases.json"
	ReportManifests   = "manifests.txt"
	ReportVersion     = "version.txt"
	ReportMetrics     = "metrics.txt"
	reportInstallerIO = 30 * time.Second // bounds the installer calls of one report
)

// ReportDir is the folder of the state folder where a report is written each time the install
// flow ends (installed or stopped); the newest keepReports are kept.
const ReportDir = "reports"

const keepReports = 10

// ReportSecrets are the lab's secret values, which no report part may contain: the pull
// secret and each registry auth in it, the offline token, the BMC passwords.
func ReportSecrets(lab *config.Lab) [][]byte {
	out := [][]byte{lab.Cluster.PullSecret.Reveal(), lab.AssistedInstaller.OfflineToken.Reveal()}
	var ps struct {
		Auths map[string]struct {
			Auth string `json:"auth"`
		} `json:"auths"`
	}
	if json.Unmarshal(lab.Cluster.PullSecret.Reveal(), &ps) == nil {
		for _, a := range ps.Auths {
			out = append(out, []byte(a.Auth))
		}
	}
	for _, n := range lab.Nodes {
		out = append(out, n.BMC.Password.Reveal())
	}
	return append(out, lab.Proxy.Password.Reveal(), lab.Cluster.DiscoveryPasswordHash.Reveal())
}

// redactCluster and redactInfraEnv take out of the installer's objects what it keeps of the
// lab's secrets: the proxy password in the proxy URLs, and the discovery password hash in the
// ignition override.
func redactCluster(c *ai.Cluster) *ai.Cluster {
	if c == nil {
		return nil
	}
	r := *c
	r.HTTPProxy, r.HTTPSProxy = config.RedactProxyURL(r.HTTPProxy), config.RedactProxyURL(r.HTTPSProxy)
	return &r
}

func redactInfraEnv(ie *ai.InfraEnv, lab *config.Lab) *ai.InfraEnv {
	if ie == nil {
		return nil
	}
	r := *ie
	if ie.Proxy != nil {
		p := *ie.Proxy
		for _, u := range []**string{&p.HTTPProxy, &p.HTTPSProxy} {
			if *u != nil {
				*u = ptrTo(config.RedactProxyURL(**u))
			}
		}
		r.Proxy = &p
	}
	if h := lab.Cluster.DiscoveryPasswordHash.Reveal(); len(h) > 0 {
		r.IgnitionConfigOverride = strings.ReplaceAll(r.IgnitionConfigOverride, string(h), "[redacted]")
	}
	return &r
}

func ptrTo[T any](v T) *T { return &v }

// WriteReport writes the run report (pkg/report's bundle) to w: the lab file and the plan, the
// flow's steps, the event log, every node's timeline, the installer's cluster, infra env,
// hosts and logs, the doctor's last report, DHCP leases, the manifests' checksums, the
// version and a metrics snapshot. It holds no credentials; a part it cannot collect is listed
// as missing in index.json, with why.
func (a *Appliance) WriteReport(ctx context.Context, w io.Writer) error {
	lab := a.Lab()
	b := report.New(w, report.Index{Version: Version, Lab: lab.File}, ReportSecrets(lab))
	part := func(name string, data []byte, err error) {
		if err != nil {
			b.Miss(name, err)
			return
		}
		if err := b.Add(name, data); err != nil {
			b.Miss(name, err)
		}
	}
	jsonPart := func(name string, v any) {
		if err := b.AddJSON(name, v); err != nil {
			b.Miss(name, err)
		}
	}
	raw, err := os.ReadFile(lab.File) // secrets live in files of their own, never in the lab file
	part(ReportLabFile, raw, err)
	jsonPart(ReportLab, lab) // secrets marshal as redacted
	jsonPart(ReportPlan, NewPlan(lab))
	snap := a.Snapshot()
	jsonPart(ReportSteps, snap.Steps)
	jsonPart(ReportStatus, snap)
	if events, err := a.store.Events(0, 0); err != nil {
		b.Miss(ReportEvents, err)
	} else {
		jsonPart(ReportEvents, events)
	}
	all := a.timeline.All()
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	for _, n := range lab.Nodes {
		if !slices.Contains(names, n.Name) {
			names = append(names, n.Name)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		jsonPart(ReportTimelines+n+".json", status.BuildNodeTimeline(n, all[n], snap.Time))
	}
	a.reportInstaller(ctx, b, lab)
	if d := a.doctorLast.Load(); d != nil {
		jsonPart(ReportDoctor, d)
	} else {
		b.Miss(ReportDoctor, errors.New("the preflight has not run"))
	}
	if leases, err := a.store.Leases(""); err != nil {
		b.Miss(ReportLeases, err)
	} else {
		jsonPart(ReportLeases, leases)
	}
	m, err := manifestSums(lab, a.Flow())
	part(ReportManifests, m, err)
	part(ReportVersion, []byte("cn2-appliance "+Version+"\n"), nil)
	metrics, err := a.metricsText()
	part(ReportMetrics, metrics, err)
	return b.Close()
}

// reportInstaller adds the installer's view: cluster, infra env and hosts as it answers now
// (the flow's last observation when it cannot be asked), and its logs when it has them.
func (a *Appliance) reportInstaller(ctx context.Context, b *report.Bundle, lab *config.Lab) {
	f := a.Flow()
	if f == nil {
		for _, p := range []string{ReportCluster, ReportInfraEnv, ReportHosts, ReportLogs} {
			b.Miss(p, errors.New("the appliance does not install (serve --no-install)"))
		}
		return
	}
	st := f.State()
	ctx, cancel := context.WithTimeout(ctx, reportInstallerIO)
	defer cancel()
	client, err := newAIClient(lab, a.opts.AIHTTPClient, nil, a.log)
	if err != nil {
		b.Miss(ReportCluster, err)
		return
	}
	obs := f.Observed()
	addOr := func(name string, v any, err error, last any) {
		if err == nil {
			err = b.AddJSON(name, v)
		}
		if err != nil {
			b.Miss(name, fmt.Errorf("asking the installer: %w", err))
			if last != nil {
				_ = b.AddJSON(strings.TrimSuffix(name, ".json")+".last-seen.json", last)
			}
		}
	}
	if st.ClusterID == "" {
		b.Miss(ReportCluster, errors.New("no cluster registered yet"))
	} else {
		c, err := client.GetCluster(ctx, st.ClusterID, false)
		addOr(ReportCluster, redactCluster(c), err, redactCluster(obs.Cluster))
	}
	if st.InfraEnvID == "" {
		b.Miss(ReportInfraEnv, errors.New("no infra env registered yet"))
		b.Miss(ReportHosts, errors.New("no infra env registered yet"))
	} else {
		ie, err := client.GetInfraEnv(ctx, st.InfraEnvID)
		addOr(ReportInfraEnv, redactInfraEnv(ie, lab), err, nil)
		hosts, err := client.InfraEnvHosts(ctx, st.InfraEnvID)
		addOr(ReportHosts, hosts, err, obs.Hosts)
	}
	if st.ClusterID != "" {
		logs, err := client.ClusterLogs(ctx, st.ClusterID, "all", "")
		if err != nil {
			err = fmt.Errorf("the installer has none to give: %w", err)
		}
		if err == nil {
			err = b.Add(ReportLogs, logs)
		}
		if err != nil {
			b.Miss(ReportLogs, err)
		}
	} else {
		b.Miss(ReportLogs, errors.New("no cluster registered yet"))
	}
}

// manifestSums lists the manifests with their SHA-256: as uploaded to the installer, else as
// the lab's manifests folder holds them.
func manifestSums(lab *config.Lab, f *flow.Flow) ([]byte, error) {
	var buf bytes.Buffer
	if f != nil && len(f.State().Manifests) > 0 {
		up := f.State().Manifests
		names := make([]string, 0, len(up))
		for n := range up {
			names = append(names, n)
		}
		sort.Strings(names)
		buf.WriteString("# uploaded to the installer: sha256  name\n")
		for _, n := range names {
			fmt.Fprintf(&buf, "%s  %s\n", up[n], n)
		}
		return buf.Bytes(), nil
	}
	buf.WriteString("# not uploaded yet; in " + lab.Cluster.ManifestsDir + ": sha256  name\n")
	for _, n := range lab.Cluster.Manifests {
		data, err := os.ReadFile(filepath.Join(lab.Cluster.ManifestsDir, n))
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(&buf, "%s  %s\n", hex.EncodeToString(sum[:]), n)
	}
	return buf.Bytes(), nil
}

// metricsText is what /metrics serves now, in the text format.
func (a *Appliance) metricsText() ([]byte, error) {
	if a.opts.Gatherer == nil {
		return nil, errors.New("no metrics registry")
	}
	mfs, err := a.opts.Gatherer.Gather()
	if err != nil && len(mfs) == 0 {
		return nil, err
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

// writeReportFile writes a report into the state folder's reports/ (mode 0600), named after
// the time and why ("installed", "stopped"), and drops the oldest beyond keepReports.
func (a *Appliance) writeReportFile(ctx context.Context, why string) {
	dir := filepath.Join(a.stateDir(), ReportDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		a.log.Error("appliance: run report", "err", err)
		return
	}
	name := filepath.Join(dir, "report-"+time.Now().UTC().Format("20060102-150405")+"-"+why+".tar.gz")
	var buf bytes.Buffer
	if err := a.WriteReport(ctx, &buf); err != nil {
		a.log.Error("appliance: run report", "err", err)
		return
	}
	if err := atomicfile.Write(name, buf.Bytes(), 0o600); err != nil {
		a.log.Error("appliance: run report", "err", err)
		return
	}
	a.event(slog.LevelInfo, "run report written to "+name)
	old, _ := filepath.Glob(filepath.Join(dir, "report-*.tar.gz"))
	sort.Strings(old)
	for len(old) > keepReports {
		_ = os.Remove(old[0])
		old = old[1:]
	}
}
