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
	hw, err := net.ParseMAC(mac)
	if err != nil {
		return fmt.Errorf("boot profile for %q: %w", mac, err)
	}
	return b.pxe.Profiles().SetProfile(hw, pxe.Profile(profile), "install flow")
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

func (a *Appliance) newFlow(lab *config.Lab, reg prometheus.Registerer) (*flow.Flow, error) {
	ai, err := newAIClient(lab, a.opts.AIHTTPClient, reg, a.log)
	if err != nil {
		return nil, err
	}
	return flow.New(flow.Deps{
		Lab:          lab,
		AI:           ai,
		Power:        a.power,
		Boot:         bootService{pxe: a.pxe, lab: a.Lab},
		Store:        a.store,
		Log:          a.log.With("service", "flow"),
		OutputDir:    filepath.Join(a.stateDir(), OutputDir),
		PollInterval: a.opts.PollInterval,
	})
}

func newAIClient(lab *config.Lab, hc *http.Client, reg prometheus.Registerer, log *slog.Logger) (*ai.Client, error) {
	cfg := ai.Config{
		URL:          lab.AssistedInstaller.URL,
		OfflineToken: string(lab.AssistedInstaller.OfflineToken.Reveal()),
		TokenURL:     lab.AssistedInstaller.TokenURL,
		HTTPClient:   hc,
		Logger:       log.With("service", "ai"),
	}
	if reg != nil {
		m, err := ai.NewMetrics(reg)
		if err != nil {
			return nil, fmt.Errorf("appliance: installer metrics: %w", err)
		}
		cfg.Metrics = m
	}
	c, err := ai.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("appliance: installer client: %w", err)
	}
	return c, nil
}

// powerDrivers opens every node's BMC client (connections are made on first use).
func powerDrivers(lab *config.Lab, reg prometheus.Registerer, log *slog.Logger, opts Options) (map[string]flow.Power, error) {
	if opts.Power != nil {
		return opts.Power, nil
	}
	var metrics *bmc.Metrics
	if reg != nil {
		m, err := bmc.NewMetrics(reg)
		if err != nil {
			return nil, fmt.Errorf("appliance: bmc metrics: %w", err)
		}
		metrics = m
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

// runFlow runs the install. A flow that stops on a permanent error does not stop the
// appliance: DHCP, DNS and network boot go on, and the status page says what failed.
func (a *Appliance) runFlow(ctx context.Context) error {
	err := a.flow.Run(ctx)
	switch {
	case err == nil:
		a.event("info", "install flow finished")
	case ctx.Err() == nil:
		a.event("error", "install flow stopped: "+err.Error())
	}
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
		for name, p := range a.power {
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
