package appliance

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
	"github.com/cn2-appliance/cn2-appliance/pkg/bmc"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/flow"
	"github.com/cn2-appliance/cn2-appliance/pkg/pxe"
	"github.com/prometheus/client_golang/prometheus"
)

// bootService is the install flow's view of network boot (flow.BootService), backed by the
// PXE service.
type bootService struct {
	pxe *pxe.Server
	lab func() *config.Lab
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

func (b bootService) CacheIPXEArtifacts(ctx context.Context, script []byte) error {
	_, err := b.pxe.Cache().Fill(ctx, &pxe.InstallerSource{Script: pxe.ScriptBytes(script)})
	return err
}

// CacheISO downloads the discovery ISO where the PXE service serves it, and returns the URL
// the nodes' BMCs fetch it from: the appliance's machine-network address.
func (b bootService) CacheISO(ctx context.Context, url string) (string, error) {
	dst := filepath.Join(b.pxe.Cache().Dir(), DiscoveryISO)
	if _, err := pxe.DownloadFile(ctx, nil, url, dst); err != nil {
		return "", err
	}
	lab := b.lab()
	mn := lab.MachineNetwork()
	return fmt.Sprintf("http://%s/iso/%s", netip.AddrPortFrom(mn.Address, uint16(lab.Boot.HTTPPort)), DiscoveryISO), nil
}

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

// newFlow builds the install flow of lab and the power drivers of its nodes.
func (a *Appliance) newFlow(lab *config.Lab) (map[string]flow.Power, *flow.Flow, error) {
	client, err := newAIClient(lab, a.opts.AIHTTPClient, a.metrics.ai, a.log)
	if err != nil {
		return nil, nil, err
	}
	power, err := powerDrivers(lab, a.metrics.bmc, a.log, a.opts)
	if err != nil {
		return nil, nil, err
	}
	f, err := flow.New(flow.Deps{
		Lab:          lab,
		AI:           client,
		Power:        power,
		Boot:         bootService{pxe: a.pxe, lab: a.Lab},
		Store:        a.store,
		Log:          a.log.With("service", "flow"),
		OutputDir:    filepath.Join(a.stateDir(), OutputDir),
		PollInterval: a.opts.PollInterval,
		Preflight:    a.preflight,
	})
	return power, f, err
}

func newAIClient(lab *config.Lab, hc *http.Client, metrics *ai.Metrics, log *slog.Logger) (*ai.Client, error) {
	c, err := ai.New(ai.Config{
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

// powerDrivers opens every node's BMC client (connections are made on first use).
func powerDrivers(lab *config.Lab, metrics *bmc.Metrics, log *slog.Logger, opts Options) (map[string]flow.Power, error) {
	if opts.Power != nil {
		return opts.Power, nil
	}
	out := map[string]flow.Power{}
	for _, n := range lab.Nodes {
		c, err := bmc.New(BMCConfig(n), bmc.WithLogger(log.With("service", "bmc")), bmc.WithMetrics(metrics))
		if err != nil {
			return nil, fmt.Errorf("appliance: node %s: %w", n.Name, err)
		}
		out[n.Name] = c
	}
	return out, nil
}

// runFlow runs the install, and owns the flow's life: a flow that stops on a permanent error
// does not stop the appliance (DHCP, DNS and network boot go on, the status page says what
// failed), and a reload that asks for reprovisioning tears the install down and starts the
// new lab's.
func (a *Appliance) runFlow(ctx context.Context) error {
	for {
		f := a.Flow()
		fctx, cancel := context.WithCancel(ctx)
		finished := make(chan error, 1)
		go func() { finished <- f.Run(fctx) }()
		var next *config.Lab
		ended := false
		select {
		case err := <-finished:
			ended = true
			if err == nil {
				a.event(slog.LevelInfo, "install flow finished")
			} else if ctx.Err() == nil {
				a.event(slog.LevelError, "install flow stopped: "+err.Error())
			}
			select {
			case <-ctx.Done():
			case next = <-a.reprovisionReq:
			}
		case next = <-a.reprovisionReq:
		case <-ctx.Done():
		}
		cancel()
		if !ended {
			<-finished
		}
		if next == nil {
			return nil
		}
		if err := a.reprovision(ctx, f, next); err != nil {
			a.event(slog.LevelError, "automatic reprovision failed, the lab still needs it: "+err.Error())
		}
	}
}

// reprovision tears down the install of f and replaces f by a flow for lab.
func (a *Appliance) reprovision(ctx context.Context, f *flow.Flow, lab *config.Lab) error {
	if err := f.Reprovision(ctx); err != nil {
		return err
	}
	power, nf, err := a.newFlow(lab)
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
	return strings.Join(diffs, ", ")
}
