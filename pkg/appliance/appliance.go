// Package appliance wires the services together from a lab. It owns the translation from the
// lab model (pkg/config) into each service's own configuration, the services' lifecycles, and
// reload. The services never import each other: they meet here through small interfaces.
package appliance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/dhcp"
	"github.com/cn2-appliance/cn2-appliance/pkg/dns"
	"github.com/cn2-appliance/cn2-appliance/pkg/doctor"
	"github.com/cn2-appliance/cn2-appliance/pkg/flow"
	"github.com/cn2-appliance/cn2-appliance/pkg/ntp"
	"github.com/cn2-appliance/cn2-appliance/pkg/pxe"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
	"github.com/prometheus/client_golang/prometheus"
)

// Appliance runs the lab's services and applies new lab files to them.
type Appliance struct {
	log   *slog.Logger
	store *store.Store
	lab   atomic.Pointer[config.Lab]
	dns   *dns.Server
	dhcp  *dhcp.Server
	pxe   *pxe.Server
	ntp   *ntp.Server
	opts  Options

	flowMu      sync.Mutex
	flow        *flow.Flow // nil: the lab is served, not installed (Options.NoInstall)
	power       map[string]flow.Power
	metrics     serviceMetrics
	flowReqMu   sync.Mutex
	flowReq     chan flowRequest // a reload asks runFlow to restart or reprovision
	flowStopped atomic.Bool      // the flow ended on an error and waits for a lab change

	reloadMu sync.Mutex // one reload at a time
	powerMu  sync.Mutex
	powerNow map[string]string // node -> last power state seen

	statusAddr atomic.Value // string
	doctorLast atomic.Pointer[doctor.Report]
}

// Options change how the appliance reaches the outside world; the zero value is production.
type Options struct {
	// Power replaces the nodes' BMC drivers (the rehearsal's simulated nodes).
	Power map[string]flow.Power
	// AIHTTPClient replaces the installer client's HTTP client.
	AIHTTPClient *http.Client
	// PollInterval is how often the install flow and the power poller look again (default 10s).
	PollInterval time.Duration
	// NoInstall serves DHCP, DNS and network boot only, without running the install flow.
	NoInstall bool
	// Gatherer is what /metrics serves (the registry the services registered on).
	Gatherer prometheus.Gatherer
	// SkipPreflight names doctor checks the preflight step does not run (serve --skip-preflight).
	SkipPreflight []string
	// Loopback says the lab lives on loopback (the rehearsal): the preflight adjusts its checks.
	Loopback bool
	// NTPSync replaces the host clock's sync state the NTP server serves by (nil: the host's).
	NTPSync ntp.SyncSource
}

// New builds every service and the install flow from lab; nothing is bound until Run.
func New(lab *config.Lab, st *store.Store, reg prometheus.Registerer, log *slog.Logger, opts Options) (*Appliance, error) {
	a := &Appliance{log: log, store: st, opts: opts, powerNow: map[string]string{}, flowReq: make(chan flowRequest, 1)}
	var err error
	if a.dns, err = dns.New(DNSConfig(lab), reg, log.With("service", "dns")); err != nil {
		return nil, fmt.Errorf("appliance: set up dns: %w", err)
	}
	if a.dhcp, err = dhcp.New(DHCPConfig(lab), st, reg, log.With("service", "dhcp")); err != nil {
		return nil, fmt.Errorf("appliance: set up dhcp: %w", err)
	}
	if a.pxe, err = pxe.New(PXEConfig(lab, a.stateDir()), st, reg, log.With("service", "pxe")); err != nil {
		return nil, fmt.Errorf("appliance: set up pxe: %w", err)
	}
	if a.ntp, err = ntp.New(NTPConfig(lab), opts.NTPSync, reg, log.With("service", "ntp")); err != nil {
		return nil, fmt.Errorf("appliance: set up ntp: %w", err)
	}
	a.nameLeases()
	a.lab.Store(lab)
	if a.metrics, err = newServiceMetrics(reg); err != nil {
		return nil, err
	}
	if err := doctor.ValidateSkip(opts.SkipPreflight); err != nil {
		return nil, fmt.Errorf("appliance: %w", err)
	}
	a.loadDoctor()
	if reg != nil {
		if err := reg.Register(doctorCollector{a}); err != nil {
			return nil, fmt.Errorf("appliance: doctor metrics: %w", err)
		}
	}
	if !opts.NoInstall {
		if a.power, a.flow, err = a.newFlow(lab, nil, nil); err != nil {
			return nil, err
		}
		if reg != nil {
			if err := reg.Register(flowCollector{a}); err != nil {
				return nil, fmt.Errorf("appliance: flow metrics: %w", err)
			}
		}
	}
	return a, nil
}

// Flow is the install flow; nil when the appliance does not install.
func (a *Appliance) Flow() *flow.Flow {
	a.flowMu.Lock()
	defer a.flowMu.Unlock()
	return a.flow
}

// powerDrivers are the nodes' power drivers of the current flow.
func (a *Appliance) powerDrivers() map[string]flow.Power {
	a.flowMu.Lock()
	defer a.flowMu.Unlock()
	return a.power
}

// Lab is the lab the appliance currently runs.
func (a *Appliance) Lab() *config.Lab { return a.lab.Load() }

// Run serves until ctx is done. If a service fails, the others are stopped and its error is
// returned.
func (a *Appliance) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	services := map[string]func(context.Context) error{
		"dns":  a.dns.Run,
		"dhcp": a.dhcp.Run,
		"pxe":  a.pxe.Run,
		"ntp":  a.ntp.Run,
		// Not a server: returns once the boot cache is filled (or needs no filling).
		"boot-cache": a.fillBootCacheFromISO,
		"status":     a.serveStatus,
	}
	if a.Flow() != nil {
		services["flow"] = a.runFlow
		services["power"] = a.pollPower
	}
	var wg sync.WaitGroup
	for name, run := range services {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(ctx); err != nil {
				cancel(fmt.Errorf("%s: %w", name, err))
			}
		}()
	}
	lab := a.Lab()
	a.event(slog.LevelInfo, fmt.Sprintf("serving lab %s: %d nodes on %d networks", lab.Zone(), len(lab.Nodes), len(lab.Networks)))
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// Reload applies a new, already validated lab to every service. If a service refuses it, the
// services keep what they run and the error says why.
func (a *Appliance) Reload(lab *config.Lab) error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	// PXE first: it refuses only what a restart would need (a moved cache folder).
	if err := a.pxe.Reload(PXEConfig(lab, a.stateDir())); err != nil {
		return fmt.Errorf("appliance: reload: %w", err)
	}
	// DHCP next: if it refuses the lab, DNS still matches what DHCP hands out.
	if err := a.dhcp.Reload(DHCPConfig(lab)); err != nil {
		return fmt.Errorf("appliance: reload: %w", err)
	}
	if err := a.dns.Reload(DNSConfig(lab)); err != nil {
		return fmt.Errorf("appliance: reload: %w", err)
	}
	if err := a.ntp.Reload(NTPConfig(lab)); err != nil {
		return fmt.Errorf("appliance: reload: %w", err)
	}
	if err := a.reloadFlow(a.Lab(), lab); err != nil {
		return fmt.Errorf("appliance: reload: %w", err)
	}
	a.lab.Store(lab)
	a.event(slog.LevelInfo, fmt.Sprintf("reloaded lab %s: %d nodes on %d networks", lab.Zone(), len(lab.Nodes), len(lab.Networks)))
	return nil
}

// stateDir is the state folder (the store's).
func (a *Appliance) stateDir() string { return filepath.Dir(a.store.Path()) }

// nameLeases gives DHCP clients DNS names: the leases the store already holds, then every
// lease event. Reserved nodes already have static names; those win in the DNS server.
func (a *Appliance) nameLeases() {
	names := a.dns.Names()
	name := func(host string, ip netip.Addr) {
		if host == "" {
			return
		}
		if err := names.Set(host, ip); err != nil {
			a.log.Debug("appliance: no DNS name for lease", "hostname", host, "ip", ip, "err", err)
		}
	}
	now := time.Now()
	for _, l := range a.dhcp.Leases() {
		if !l.Expired(now) {
			name(l.Hostname, l.IP)
		}
	}
	a.dhcp.OnLease(func(e dhcp.LeaseEvent) {
		switch e.Kind {
		case dhcp.EventBound, dhcp.EventRenewed:
			name(e.Hostname, e.IP)
		default:
			// Only if the name still points at this lease: another client may have taken it.
			if ip, ok := names.Lookup(e.Hostname); ok && ip == e.IP {
				names.Remove(e.Hostname)
			}
		}
	})
}

// event logs a message and keeps it in the store's event log, which the status page shows.
func (a *Appliance) event(level slog.Level, msg string) {
	a.log.Log(context.Background(), level, "appliance: "+msg)
	if _, err := a.store.AppendEvent(store.Event{Level: strings.ToLower(level.String()), Source: "appliance", Message: msg}); err != nil {
		a.log.Error("appliance: record event", "err", err)
	}
}
