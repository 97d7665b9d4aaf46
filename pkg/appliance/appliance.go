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
	"github.com/cn2-appliance/cn2-appliance/pkg/liveness"
	"github.com/cn2-appliance/cn2-appliance/pkg/nodejoin"
	"github.com/cn2-appliance/cn2-appliance/pkg/ntp"
	"github.com/cn2-appliance/cn2-appliance/pkg/pxe"
	"github.com/cn2-appliance/cn2-appliance/pkg/status"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
	"github.com/cn2-appliance/cn2-appliance/pkg/timeline"
	"github.com/cn2-appliance/cn2-appliance/pkg/verify"
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

	timeline *timeline.Log // the nodes' milestones

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
	verifyLast atomic.Pointer[verify.Report]

	live         *liveness.Registry
	flowBeatOnce sync.Once
	flowBeat     *liveness.Beat
	reloads      reloadRecord
	svcMu        sync.Mutex
	stopped      map[string]error // services whose Run returned while the appliance runs
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
	// NoClusterAPI says the installed cluster has no API server (the rehearsal's simulated
	// one): the verify step checks the installer's view only, and its report says so.
	NoClusterAPI bool
	// NTPSync replaces the host clock's sync state the NTP server serves by (nil: the host's).
	NTPSync ntp.SyncSource
	// MaxSilence is how long a long-running loop may go without beating before the appliance
	// counts it as wedged (default liveness.DefaultMaxSilence).
	MaxSilence time.Duration
	// ClusterAPI replaces the installed cluster's API the day-2 flow approves node CSRs through
	// (the rehearsal's simulated one); nil: the API the fetched kubeconfig names.
	ClusterAPI nodejoin.API
	// SnapshotView rewrites each status snapshot before anyone sees it (the rehearsal shows the
	// lab's own addresses instead of the loopback ones it serves on); nil: as assembled.
	SnapshotView func(*status.Snapshot)
	// OnPoll receives the install flow's cost of each poll (bench/storm).
	OnPoll func(flow.PollReport)
}

// New builds every service and the install flow from lab; nothing is bound until Run.
func New(lab *config.Lab, st *store.Store, reg prometheus.Registerer, log *slog.Logger, opts Options) (*Appliance, error) {
	a := &Appliance{log: log, store: st, opts: opts, powerNow: map[string]string{}, flowReq: make(chan flowRequest, 1),
		live: liveness.New(opts.MaxSilence), stopped: map[string]error{}}
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
	a.dns.SetLiveness(a.live)
	a.dhcp.SetLiveness(a.live)
	a.pxe.SetLiveness(a.live)
	if err := a.openTimeline(lab, reg); err != nil {
		return nil, fmt.Errorf("appliance: %w", err)
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
	if err := a.reloads.init(reg, lab.File, time.Now()); err != nil {
		return nil, err
	}
	if reg != nil {
		if err := reg.Register(a.live.Collector()); err != nil {
			return nil, fmt.Errorf("appliance: liveness metrics: %w", err)
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
		"timeline":   a.timeline.Run,
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
			err := run(ctx)
			if err != nil {
				cancel(fmt.Errorf("%s: %w", name, err))
			}
			if ctx.Err() == nil && name != "boot-cache" {
				a.serviceStopped(name, err)
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

// Reload applies a new, already validated lab to every service, all or nothing: every
// service first builds (and binds) what the new lab needs, and only if all of them can is it
// applied, which cannot fail. If one refuses, no service changes, Lab() stays the lab they
// run, and the refusal is recorded (status page, JSON API, event log, metrics) and returned.
func (a *Appliance) Reload(lab *config.Lab) error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	staged, err := a.prepareReload(lab)
	if err != nil {
		a.refuseReload(lab.File, []status.ReloadProblem{{File: lab.File, Message: err.Error()}})
		return fmt.Errorf("appliance: reload: %w", err)
	}
	staged.apply()
	// The services run lab from here: Lab() says so and the reload counts as applied even if
	// the bookkeeping below fails.
	defer a.reloadApplied(lab)
	if err := a.reloadFlow(a.Lab(), lab, staged.power); err != nil {
		return fmt.Errorf("appliance: reload: %w", err)
	}
	return nil
}

// ReloadFile loads the lab file at path and reloads it. A file that does not load (bad YAML,
// a key that does not validate) is a refused reload too: it is recorded with each problem's
// line, and the services keep the lab they run.
func (a *Appliance) ReloadFile(path string) error {
	lab, err := config.Load(path)
	if err != nil {
		a.reloadMu.Lock()
		defer a.reloadMu.Unlock()
		a.refuseReload(path, loadProblems(path, err))
		return fmt.Errorf("appliance: reload %s: %w", path, err)
	}
	for _, w := range lab.Warnings {
		a.log.Warn("lab file: " + strings.TrimPrefix(w.String(), w.File+": "))
	}
	return a.Reload(lab)
}

// stagedReload is every service's prepared configuration.
type stagedReload struct {
	pxe   *pxe.Staged
	dhcp  *dhcp.Staged
	dns   *dns.Staged
	ntp   ntp.Config
	power map[string]flow.Power // new drivers of the nodes whose BMC settings changed
	apply func()
}

// prepareReload has every service build what lab needs; if one refuses, what the others
// built is dropped and the error names the refusing service.
func (a *Appliance) prepareReload(lab *config.Lab) (*stagedReload, error) {
	var st stagedReload
	var err error
	if st.pxe, err = a.pxe.PrepareReload(PXEConfig(lab, a.stateDir())); err != nil {
		return nil, err
	}
	if st.dhcp, err = a.dhcp.PrepareReload(DHCPConfig(lab)); err != nil {
		st.pxe.Discard()
		return nil, err
	}
	if st.dns, err = a.dns.PrepareReload(DNSConfig(lab)); err != nil {
		st.dhcp.Discard()
		st.pxe.Discard()
		return nil, err
	}
	st.ntp = NTPConfig(lab)
	if err = a.ntp.Prepare(st.ntp); err == nil {
		st.power, err = a.changedPower(a.Lab(), lab)
	}
	if err != nil {
		st.dns.Discard()
		st.dhcp.Discard()
		st.pxe.Discard()
		return nil, err
	}
	st.apply = func() {
		st.pxe.Apply()
		st.dhcp.Apply()
		st.dns.Apply()
		a.ntp.Apply(st.ntp)
	}
	return &st, nil
}

// reloadApplied makes lab the appliance's lab and records the reload.
func (a *Appliance) reloadApplied(lab *config.Lab) {
	a.lab.Store(lab)
	a.timeline.SetLab(timelineNodes(lab))
	a.reloads.applied(lab.File, time.Now())
	a.event(slog.LevelInfo, fmt.Sprintf("reloaded lab %s: %d nodes on %d networks", lab.Zone(), len(lab.Nodes), len(lab.Networks)))
}

// refuseReload records a refused reload of file and logs it as an event.
func (a *Appliance) refuseReload(file string, problems []status.ReloadProblem) {
	a.reloads.refused(file, time.Now(), problems)
	why := make([]string, len(problems))
	for i, p := range problems {
		why[i] = p.String()
	}
	a.event(slog.LevelError, fmt.Sprintf("reload of %s refused, still running the previous lab: %s", file, strings.Join(why, "; ")))
}

// loadProblems turns a lab file's load error into reload problems, one per finding.
func loadProblems(path string, err error) []status.ReloadProblem {
	var cerr *config.Error
	if !errors.As(err, &cerr) {
		return []status.ReloadProblem{{File: path, Message: err.Error()}}
	}
	var out []status.ReloadProblem
	for _, p := range cerr.Problems {
		out = append(out, status.ReloadProblem{File: p.File, Line: p.Pos.Line, Column: p.Pos.Column, Key: p.Path, Message: p.Message})
	}
	return out
}

// Liveness is the registry every long-running loop of the appliance beats in.
func (a *Appliance) Liveness() *liveness.Registry { return a.live }

// FlowBeat is the install flow's beat, registered on the first call: the flow's loops call
// Beat() each time they go round (and from long waits), and Idle(why) when the flow stops on
// a permanent error to wait for a lab change, which is on purpose and not a wedge. It may be
// silent for flowMaxSilence, three poll intervals or the appliance's MaxSilence, whichever is
// longest: a step blocks in bounded calls (an image download, a BMC call's tries) between beats.
func (a *Appliance) FlowBeat() *liveness.Beat {
	a.flowBeatOnce.Do(func() {
		poll := a.opts.PollInterval
		if poll <= 0 {
			poll = 10 * time.Second
		}
		a.flowBeat = a.live.Register("flow", max(a.live.MaxSilence(), 3*poll, flowMaxSilence))
	})
	return a.flowBeat
}

// serviceStopped records a service whose Run returned while the appliance still runs.
func (a *Appliance) serviceStopped(name string, err error) {
	if err == nil {
		err = errors.New("returned")
	}
	a.svcMu.Lock()
	a.stopped[name] = err
	a.svcMu.Unlock()
}

// stateDir is the state folder (the store's).
func (a *Appliance) stateDir() string { return filepath.Dir(a.store.Path()) }

// nameLeases gives DHCP clients DNS names: the leases the store already holds, then every
// lease event. The DNS server refuses names that are not host names, that the lab reserves
// (DNSConfig's ReservedNames and its static records) or that another MAC's live lease holds;
// it counts and logs those refusals.
func (a *Appliance) nameLeases() { nameLeases(a.dhcp, a.dns.Names(), a.log) }

func nameLeases(dh *dhcp.Server, names *dns.DynamicNames, log *slog.Logger) {
	name := func(mac, host string, ip netip.Addr, until time.Time) {
		if host == "" {
			return
		}
		if err := names.Claim(mac, host, ip, until); err != nil {
			log.Debug("appliance: no DNS name for lease", "mac", mac, "hostname", host, "ip", ip, "err", err)
		}
	}
	now := time.Now()
	for _, l := range dh.Leases() {
		if !l.Expired(now) {
			name(l.MAC, l.Hostname, l.IP, l.Expiry)
		}
	}
	dh.OnLease(func(e dhcp.LeaseEvent) {
		switch e.Kind {
		case dhcp.EventBound, dhcp.EventRenewed:
			name(e.MAC.String(), e.Hostname, e.IP, e.Expiry)
		default:
			names.Release(e.MAC.String(), e.Hostname)
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
