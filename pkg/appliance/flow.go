package appliance

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
	"github.com/cn2-appliance/cn2-appliance/pkg/bmc"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/flow"
	"github.com/cn2-appliance/cn2-appliance/pkg/nodejoin"
	"github.com/cn2-appliance/cn2-appliance/pkg/nodejoin/kubeapi"
	"github.com/cn2-appliance/cn2-appliance/pkg/outbound"
	"github.com/cn2-appliance/cn2-appliance/pkg/pxe"
	"github.com/prometheus/client_golang/prometheus"
)

// bootService is the install flow's view of network boot (flow.BootService), backed by the
// PXE service.
type bootService struct {
	pxe *pxe.Server
	lab func() *config.Lab
	// client downloads the boot artifacts and the ISO (outbound: the lab's proxy and trust
	// bundle); nil: the PXE service's default.
	client *http.Client
}

func (b bootService) SetProfile(mac, profile string) error {
	return setProfile(b.pxe.Profiles(), mac, profile, "install flow")
}

// setProfile sets a MAC's boot profile, for the flow's string-typed view of it.
func setProfile(p pxe.BootProfiles, mac, profile, reason string) error {
	hw, err := net.ParseMAC(mac)
	if err != nil {
		return fmt.Errorf("boot profile for %q: %w", mac, err)
	}
	return p.SetProfile(hw, pxe.Profile(profile), reason)
}

func (b bootService) CacheIPXEArtifacts(ctx context.Context, image string, script []byte) error {
	_, err := b.pxe.Cache().FillImage(ctx, image, &pxe.InstallerSource{Script: pxe.ScriptBytes(script), Client: b.client})
	return err
}

// CacheISO downloads the discovery ISO where the PXE service serves it, and returns the URL
// the nodes' BMCs fetch it from: the appliance's machine-network address.
func (b bootService) CacheISO(ctx context.Context, image, url string) (string, error) {
	if _, err := b.pxe.Cache().Download(ctx, b.client, image, DiscoveryISO, url); err != nil {
		return "", err
	}
	lab := b.lab()
	mn := lab.MachineNetwork()
	return fmt.Sprintf("http://%s/iso/%s", netip.AddrPortFrom(mn.Address, uint16(lab.Boot.HTTPPort)), DiscoveryISO), nil
}

func (b bootService) InvalidateBootCache() error { return b.pxe.Cache().Invalidate() }

// Store documents of the appliance's own.
const (
	docKindLab          = "lab"
	docNeedsReprovision = "needs-reprovision"
)

// OutputDir is where the install's kubeconfig and kubeadmin-password are written, inside the
// state folder.
const OutputDir = "auth"

// serviceMetrics are the installer client's and the BMC clients' metrics, registered once and
// shared by every flow the appliance builds.
type serviceMetrics struct {
	ai  *ai.Metrics
	bmc *bmc.Metrics
}

func newServiceMetrics(reg prometheus.Registerer) (serviceMetrics, error) {
	var m serviceMetrics
	if reg == nil {
		return m, nil
	}
	var err error
	if m.ai, err = ai.NewMetrics(reg); err != nil {
		return m, fmt.Errorf("appliance: installer metrics: %w", err)
	}
	if m.bmc, err = bmc.NewMetrics(reg); err != nil {
		return m, fmt.Errorf("appliance: bmc metrics: %w", err)
	}
	return m, nil
}

// newFlow builds the install flow of lab and the power drivers of its nodes; drivers in prev
// whose BMC settings lab does not change are kept.
func (a *Appliance) newFlow(lab *config.Lab, prevLab *config.Lab, prev map[string]flow.Power) (map[string]flow.Power, *flow.Flow, error) {
	out, err := outbound.ForLab(lab).Client()
	if err != nil {
		return nil, nil, fmt.Errorf("appliance: outbound transport: %w", err)
	}
	a.log.Info("outbound calls: " + outbound.ForLab(lab).Describe())
	client, err := newAIClient(lab, a.opts.AIHTTPClient, a.metrics.ai, a.log)
	if err != nil {
		return nil, nil, err
	}
	power, err := a.openPower(lab, prevLab, prev)
	if err != nil {
		return nil, nil, err
	}
	f, err := flow.New(flow.Deps{
		Lab:           lab,
		AI:            client,
		Power:         power,
		Boot:          bootService{pxe: a.pxe, lab: a.Lab, client: out},
		Store:         a.store,
		Log:           a.log.With("service", "flow"),
		OutputDir:     filepath.Join(a.stateDir(), OutputDir),
		PollInterval:  a.opts.PollInterval,
		Preflight:     a.preflight,
		Heartbeat:     a.FlowBeat().Beat,
		VerifyCluster: a.verifyCluster(lab),
		ClusterAPI:    a.clusterAPI,
		Timeline:      a.recorder(),
		OnPoll:        a.opts.OnPoll,
	})
	return power, f, err
}

// clusterAPI is the installed cluster's API for the day-2 flow: the one given in Options, or
// the API server the kubeconfig fetched by the install names.
func (a *Appliance) clusterAPI(ctx context.Context) (nodejoin.API, error) {
	if a.opts.ClusterAPI != nil {
		return a.opts.ClusterAPI, nil
	}
	return kubeapi.FromKubeconfigFile(filepath.Join(a.stateDir(), OutputDir, "kubeconfig"))
}

// flowMaxSilence is the least time the flow may go without beating before it counts as wedged.
const flowMaxSilence = 15 * time.Minute

func newAIClient(lab *config.Lab, hc *http.Client, metrics *ai.Metrics, log *slog.Logger) (*ai.Client, error) {
	if hc == nil {
		var err error
		if hc, err = outbound.ForLab(lab).Client(); err != nil {
			return nil, fmt.Errorf("appliance: installer client: %w", err)
		}
	}
	var redact []string
	if p := lab.Proxy.Password; p.IsSet() {
		redact = append(redact, string(p.Reveal()))
	}
	c, err := ai.New(ai.Config{
		Redact:       redact,
		URL:          lab.AssistedInstaller.URL,
		OfflineToken: string(lab.AssistedInstaller.OfflineToken.Reveal()),
		TokenURL:     lab.AssistedInstaller.TokenURL,
		HTTPClient:   hc,
		Logger:       log.With("service", "ai"),
		Metrics:      metrics,
	})
	if err != nil {
		return nil, fmt.Errorf("appliance: installer client: %w", err)
	}
	return c, nil
}

// openPower opens every node's BMC client (connections are made on first use). A node
// whose BMC settings are the same in prevLab keeps its client from prev.
func (a *Appliance) openPower(lab, prevLab *config.Lab, prev map[string]flow.Power) (map[string]flow.Power, error) {
	if a.opts.Power != nil {
		return a.opts.Power, nil
	}
	out := map[string]flow.Power{}
	for _, n := range lab.Nodes {
		if p, ok := prev[n.Name]; ok && prevLab != nil && !bmcChanged(prevLab, lab, n.Name) {
			out[n.Name] = p
			continue
		}
		c, err := a.openBMC(n)
		if err != nil {
			return nil, err
		}
		out[n.Name] = c
	}
	return out, nil
}

// openBMC opens a node's BMC client.
func (a *Appliance) openBMC(n config.Node) (*bmc.Client, error) {
	c, err := bmc.New(BMCConfig(n), bmc.WithLogger(a.log.With("service", "bmc")), bmc.WithMetrics(a.metrics.bmc))
	if err != nil {
		return nil, fmt.Errorf("appliance: node %s: %w", n.Name, err)
	}
	return c, nil
}

// powerDriversOffline opens every node's BMC client, for commands that run without the service.
func powerDriversOffline(lab *config.Lab, log *slog.Logger, opts Options) (map[string]flow.Power, error) {
	a := &Appliance{log: log, opts: opts}
	return a.openPower(lab, nil, nil)
}

// bmcChanged says whether a node's BMC settings differ between two labs (or it is new).
func bmcChanged(old, next *config.Lab, node string) bool {
	o, n := old.Node(node), next.Node(node)
	return o == nil || n == nil || !reflect.DeepEqual(BMCConfig(*o), BMCConfig(*n))
}

// flowRequest asks runFlow to replace the running flow by one for lab: from scratch
// (reprovision), or resuming its progress (restart).
type flowRequest struct {
	lab         *config.Lab
	reprovision bool
	day2        bool // the lab adds workers to the installed cluster
}

// requestFlow hands runFlow a request; a newer one replaces one not yet taken.
func (a *Appliance) requestFlow(r flowRequest) {
	a.flowReqMu.Lock()
	defer a.flowReqMu.Unlock()
	select {
	case <-a.flowReq:
	default:
	}
	a.flowReq <- r
}

// runFlow runs the install, and owns the flow's life: a flow that stops on a permanent error
// does not stop the appliance (DHCP, DNS and network boot go on, the status page says what
// failed); a reload that changes what the flow uses restarts it with the new lab (resuming
// where it was); one that asks for reprovisioning tears the install down and starts anew.
func (a *Appliance) runFlow(ctx context.Context) error {
	for {
		f := a.Flow()
		fctx, cancel := context.WithCancel(ctx)
		finished := make(chan error, 1)
		a.flowStopped.Store(false)
		a.FlowBeat().Beat()
		go func() { finished <- f.Run(fctx) }()
		var req flowRequest
		ended := false
		select {
		case err := <-finished:
			ended = true
			if err == nil {
				a.FlowBeat().Idle("the install flow finished")
				a.event(slog.LevelInfo, "install flow finished")
				a.writeReportFile(ctx, "installed")
			} else if ctx.Err() == nil {
				a.FlowBeat().Idle("the install flow stopped on an error and waits for a lab change")
				a.flowStopped.Store(true)
				a.event(slog.LevelError, "install flow stopped: "+err.Error()+"; a reload with a corrected lab file starts it again")
				a.writeReportFile(ctx, "stopped")
			}
			select {
			case <-ctx.Done():
			case req = <-a.flowReq:
			}
		case req = <-a.flowReq:
		case <-ctx.Done():
		}
		cancel()
		if !ended {
			<-finished
		}
		if req.lab == nil {
			return nil
		}
		if req.reprovision {
			if err := a.reprovision(ctx, f, req.lab); err != nil {
				a.event(slog.LevelError, "automatic reprovision failed, the lab still needs it: "+err.Error())
			}
			continue
		}
		if err := a.restartFlow(req.lab, req.day2); err != nil {
			a.event(slog.LevelError, "install flow not restarted: "+err.Error())
		}
	}
}

// restartFlow replaces the flow by one for lab that resumes the same progress; with day2,
// it takes the lab's new workers into the installed cluster.
func (a *Appliance) restartFlow(lab *config.Lab, day2 bool) error {
	old := a.Flow()
	power, nf, err := a.newFlow(lab, old.Lab(), a.powerDrivers())
	if err != nil {
		return err
	}
	if err := nf.ClearAttention(); err != nil {
		return err
	}
	if day2 {
		if err := nf.StartDay2(); err != nil {
			return err
		}
	}
	a.flowMu.Lock()
	a.flow, a.power = nf, power
	a.flowMu.Unlock()
	a.event(slog.LevelInfo, "install flow restarted with the reloaded lab file, resuming at "+nf.Current())
	return nil
}

// reprovision tears down the install of f and replaces f by a flow for lab.
func (a *Appliance) reprovision(ctx context.Context, f *flow.Flow, lab *config.Lab) error {
	if err := f.Reprovision(ctx); err != nil {
		return err
	}
	power, nf, err := a.newFlow(lab, f.Lab(), a.powerDrivers())
	if err != nil {
		return err
	}
	a.flowMu.Lock()
	a.flow, a.power = nf, power
	a.flowMu.Unlock()
	if err := a.store.DeleteDoc(docKindLab, docNeedsReprovision); err != nil {
		return err
	}
	a.event(slog.LevelWarn, "reprovisioned: installing "+lab.Zone()+" from scratch")
	return nil
}

// reloadFlow applies a reloaded lab to the install. Changed BMC settings rebuild that node's
// driver at once. A change to what the installer was given, once the cluster is registered,
// needs reprovisioning (by itself with assistedInstaller.reprovisionOnChange). Any other change
// the flow uses (the installer, the token, the timeouts, the cluster before it is registered,
// or anything at all while the flow is stopped) restarts the flow with the new lab.
func (a *Appliance) reloadFlow(old, next *config.Lab, power map[string]flow.Power) error {
	f := a.Flow()
	if f == nil {
		return nil
	}
	a.swapPower(f, power)
	registered := f.State().ClusterID != ""
	if added, removed, ok := workersOnly(old, next); ok && f.Installed() {
		return a.reloadDay2(added, removed, next)
	}
	if why := installChanges(old, next); why != "" && registered {
		if err := a.store.PutDoc(docKindLab, docNeedsReprovision, why); err != nil {
			return err
		}
		if next.AssistedInstaller.ReprovisionOnChange {
			a.event(slog.LevelWarn, "the lab file changes the installed cluster ("+why+"): reprovisioning it (assistedInstaller.reprovisionOnChange)")
			a.requestFlow(flowRequest{lab: next, reprovision: true})
		} else {
			a.event(slog.LevelWarn, "the lab file changes the installed cluster ("+why+"): it needs `cn2-appliance reprovision`; the install keeps its settings until then")
		}
		return nil
	}
	why := flowChanges(old, next)
	if why == "" && a.flowStopped.Load() && !reflect.DeepEqual(old, next) {
		why = "what the stopped flow waited for" // e.g. a preflight error's cause, or a BMC
	}
	if why != "" {
		a.event(slog.LevelInfo, "the lab file changes "+why+": the install flow restarts with it")
		a.requestFlow(flowRequest{lab: next})
	}
	return nil
}

// changedPower opens a new driver for every node whose BMC settings differ in next (for a
// reload: built before anything is applied, since opening one can fail).
func (a *Appliance) changedPower(old, next *config.Lab) (map[string]flow.Power, error) {
	if a.opts.Power != nil || a.Flow() == nil {
		return nil, nil
	}
	out := map[string]flow.Power{}
	for _, n := range next.Nodes {
		if !bmcChanged(old, next, n.Name) {
			continue
		}
		c, err := a.openBMC(n)
		if err != nil {
			return nil, err
		}
		out[n.Name] = c
	}
	return out, nil
}

// swapPower gives the flow the new drivers and closes the ones they replace.
func (a *Appliance) swapPower(f *flow.Flow, power map[string]flow.Power) {
	for name, p := range power {
		a.flowMu.Lock()
		prev := a.power[name]
		a.power[name] = p
		a.flowMu.Unlock()
		f.SetPower(name, p)
		if closer, ok := prev.(interface{ Close() error }); ok {
			_ = closer.Close()
		}
		a.event(slog.LevelInfo, "BMC settings of "+name+" changed: its driver is rebuilt")
	}
}

// pollPower keeps the nodes' power state fresh for the status page.
func (a *Appliance) pollPower(ctx context.Context) error {
	interval := a.opts.PollInterval
	if interval <= 0 {
		interval = 10 * time.Second
	}
	interval *= 3
	for {
		for name, p := range a.powerDrivers() {
			pctx, cancel := context.WithTimeout(ctx, interval)
			state, err := p.PowerState(pctx)
			cancel()
			s := string(state)
			if err != nil {
				s = "unknown"
			}
			a.powerMu.Lock()
			a.powerNow[name] = s
			a.powerMu.Unlock()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}

// flowChanges says which settings the install flow uses differ between two labs, besides the
// BMCs (rebuilt in place); "" when none do.
func flowChanges(old, next *config.Lab) string {
	diffs := []string{}
	if why := installChanges(old, next); why != "" {
		diffs = append(diffs, why)
	}
	o, n := old.AssistedInstaller, next.AssistedInstaller
	if !bytes.Equal(o.OfflineToken.Reveal(), n.OfflineToken.Reveal()) {
		diffs = append(diffs, "the offline token")
	}
	if o.TokenURL != n.TokenURL || o.Timeouts != n.Timeouts || o.RemedyAttempts != n.RemedyAttempts {
		diffs = append(diffs, "assistedInstaller settings")
	}
	if old.InfraEnvNTPSources() != next.InfraEnvNTPSources() {
		diffs = append(diffs, "the nodes' NTP sources")
	}
	return strings.Join(diffs, ", ")
}

// installChanges says which settings the installer was given differ between two labs; ""
// when none do. DHCP, DNS and boot changes apply at once and are not listed.
func installChanges(old, next *config.Lab) string {
	var diffs []string
	if !reflect.DeepEqual(old.Cluster, next.Cluster) {
		diffs = append(diffs, "cluster")
	}
	if old.AssistedInstaller.URL != next.AssistedInstaller.URL || old.AssistedInstaller.ImageType != next.AssistedInstaller.ImageType {
		diffs = append(diffs, "assistedInstaller")
	}
	if !reflect.DeepEqual(old.ExpectedHosts(), next.ExpectedHosts()) {
		diffs = append(diffs, "nodes")
	}
	// The cluster and the discovery image carry the proxy, its password and bundle, and the
	// no-proxy list derived from the networks.
	if !reflect.DeepEqual(old.Proxy, next.Proxy) || !slices.Equal(old.NoProxy(), next.NoProxy()) {
		diffs = append(diffs, "proxy")
	}
	return strings.Join(diffs, ", ")
}

// workersOnly says whether next differs from old, in what the installer was given, only by
// workers added (by name) and workers removed; ok is false when anything else differs too, or
// nothing does.
func workersOnly(old, next *config.Lab) (added, removed []string, ok bool) {
	for _, n := range next.Nodes {
		if old.Node(n.Name) == nil {
			if n.Role != config.RoleWorker {
				return nil, nil, false
			}
			added = append(added, n.Name)
		}
	}
	for _, n := range old.Nodes {
		if next.Node(n.Name) == nil {
			if n.Role != config.RoleWorker {
				return nil, nil, false
			}
			removed = append(removed, n.Name)
		}
	}
	if len(added)+len(removed) == 0 {
		return nil, nil, false
	}
	keep := func(l *config.Lab, drop []string) []config.ExpectedHost {
		var out []config.ExpectedHost
		for _, h := range l.ExpectedHosts() {
			if !slices.Contains(drop, h.Name) {
				out = append(out, h)
			}
		}
		return out
	}
	same := reflect.DeepEqual(old.Cluster, next.Cluster) &&
		old.AssistedInstaller.URL == next.AssistedInstaller.URL && old.AssistedInstaller.ImageType == next.AssistedInstaller.ImageType &&
		reflect.DeepEqual(keep(old, removed), keep(next, added))
	return added, removed, same
}

// reloadDay2 applies a lab that only adds and removes workers of the installed cluster: added
// ones join it (the day-2 flow), removed ones are flagged on the status page and in an event,
// and nothing is deleted.
func (a *Appliance) reloadDay2(added, removed []string, next *config.Lab) error {
	for _, name := range removed {
		a.event(slog.LevelWarn, "worker "+name+" is no longer in the lab file but is still in the cluster: nothing is deleted; drain and delete its node, and its host at the installer, if it is to go")
	}
	if len(added) > 0 {
		a.event(slog.LevelInfo, "the lab file adds worker(s) "+strings.Join(added, ", ")+" to the installed cluster: they join it as day-2 workers, with no reinstall")
	}
	a.requestFlow(flowRequest{lab: next, day2: len(added) > 0})
	return nil
}
