package flow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
	"github.com/cn2-appliance/cn2-appliance/pkg/bmc"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/nodejoin"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
	"github.com/cn2-appliance/cn2-appliance/pkg/timeline"
)

// Power is what the flow needs of a node's BMC; *bmc.Client has it.
type Power interface {
	PowerState(ctx context.Context) (bmc.PowerState, error)
	PowerOn(ctx context.Context) error
	PowerOff(ctx context.Context, force bool) error
	PowerCycle(ctx context.Context) error
	SetBootDevice(ctx context.Context, o bmc.BootOptions) error
	InsertMedia(ctx context.Context, image string) error
}

// MediaEjecter is a Power that can also detach the virtual CD; *bmc.Client is one.
type MediaEjecter interface {
	EjectMedia(ctx context.Context) error
}

// PXE profiles.
const (
	ProfileDiscovery = "discovery"
	ProfileDisk      = "disk"
)

// BootService is what the flow needs of network boot: the per-MAC boot profile, the cache of
// the discovery image's boot artifacts, and the URL the appliance serves the ISO at.
type BootService interface {
	SetProfile(mac, profile string) error
	// CacheIPXEArtifacts downloads the kernel, initrd and rootfs an installer iPXE script names,
	// of the discovery image identified by image (see bootImage): the files of another image
	// are dropped, never mixed with these.
	CacheIPXEArtifacts(ctx context.Context, image string, script []byte) error
	// CacheISO downloads the discovery ISO identified by image, dropping another image's files,
	// and returns the URL nodes' BMCs can fetch it from.
	CacheISO(ctx context.Context, image, url string) (string, error)
	// InvalidateBootCache drops every cached boot file (reprovision): nodes wait until the next
	// image is cached.
	InvalidateBootCache() error
}

// Deps are the flow's collaborators.
type Deps struct {
	Lab   *config.Lab
	AI    *ai.Client
	Power map[string]Power // by node name
	Boot  BootService
	Store *store.Store
	Log   *slog.Logger
	// OutputDir receives kubeconfig and kubeadmin-password (mode 0600).
	OutputDir string
	// PollInterval is how often waits look at the installer again (default 10s).
	PollInterval time.Duration
	// RetryDelay is the first wait before a failed step runs again (default 2s).
	RetryDelay time.Duration
	// Heartbeat, when set, is called on every turn of the flow's loops: the appliance's
	// liveness check, so a wedged flow stops the watchdog's pings.
	Heartbeat func()
	// Preflight checks the lab before anything is registered or booted; an error stops the
	// flow (the preflight step fails permanently with it). Nil: no checks.
	Preflight func(ctx context.Context) error
	// ClusterAPI opens the installed cluster's API, through which day-2 workers' node CSRs are
	// approved and their readiness read. Nil: day-2 workers cannot join (join-day2 says so).
	ClusterAPI func(ctx context.Context) (nodejoin.API, error)
	// VerifyCluster, the verify step's last check once the installer says installed, checks the
	// cluster through its API (pkg/verify, wired by the appliance, so the flow does not link
	// client-go) until it is right or its timeout passes; it returns the result in one line,
	// or an error that says what is still not right. Nil: the installer's view only.
	VerifyCluster func(ctx context.Context) (summary string, err error)
	// Timeline takes the nodes' milestones (host status, validations, power, remedies). Nil: none.
	Timeline timeline.Recorder
	// OnPoll, when set, receives each poll's cost (benchmarks, linear-work tests).
	OnPoll func(PollReport)
}

// State is what the flow knows about the installer's objects; it is kept in the store.
type State struct {
	ClusterID  string            `json:"clusterID,omitempty"`
	InfraEnvID string            `json:"infraEnvID,omitempty"`
	Hosts      map[string]string `json:"hosts,omitempty"`     // node name -> host id
	Manifests  map[string]string `json:"manifests,omitempty"` // file name -> sha256 of what was uploaded
	ISOURL     string            `json:"isoURL,omitempty"`    // where the appliance serves the discovery ISO
	// Day2InfraEnvID is the infra env day-2 workers boot from.
	Day2InfraEnvID string `json:"day2InfraEnvID,omitempty"`
	// Members are the nodes in the installed cluster (MemberDay1 or MemberDay2), by name;
	// nil until the install is verified.
	Members map[string]string `json:"members,omitempty"`
}

const docStateKey = "state"

// Observed is the installer's latest view, for the status page.
type Observed struct {
	Cluster      *ai.Cluster
	Hosts        []ai.Host
	Failing      []Failing
	UnknownHosts []ai.Host
	Time         time.Time
}

// Failing is one failing validation; Scope is "cluster" or the node's name.
type Failing struct {
	Scope string
	ai.Validation
}

// Flow is the install of one lab.
type Flow struct {
	d      Deps
	runner *Runner

	mu       sync.Mutex
	state    State
	observed Observed
	nodes    map[string]NodeRecord
	powers   map[string]Power
	// httpFallback holds the nodes whose UEFI HTTP boot fell back to PXE (said once each).
	httpFallback sync.Map
	// diskProblems: nodes whose install disk does not match (disks.go).
	diskProblems map[string]string
	counters     pollCounters
}

// New loads the flow's progress for the lab from the store.
func New(d Deps) (*Flow, error) {
	if d.PollInterval <= 0 {
		d.PollInterval = 10 * time.Second
	}
	if d.Heartbeat == nil {
		d.Heartbeat = func() {}
	}
	f := &Flow{d: d, powers: maps.Clone(d.Power)}
	if _, err := d.Store.GetDoc(docKind, docStateKey, &f.state); err != nil {
		return nil, fmt.Errorf("flow: load state: %w", err)
	}
	if _, err := d.Store.GetDoc(docKind, docNodesKey, &f.nodes); err != nil {
		return nil, fmt.Errorf("flow: load node records: %w", err)
	}
	runner, err := NewRunner(d.Store, d.Log, f.steps())
	if err != nil {
		return nil, err
	}
	if d.RetryDelay > 0 {
		runner.RetryDelay = d.RetryDelay
	}
	runner.Heartbeat = d.Heartbeat
	f.runner = runner
	// Workers added to the lab file while the appliance was stopped join as at a reload.
	if f.Installed() && len(f.Day2Nodes()) > 0 && f.Current() == "" {
		if err := f.StartDay2(); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// Run runs the install to its end, resuming where the last run stopped.
func (f *Flow) Run(ctx context.Context) error { return f.runner.Run(ctx) }

// Steps reports every step's progress.
func (f *Flow) Steps() []StepRecord { return f.runner.Records() }

// Current is the step running or next to run; "" once the install is verified.
func (f *Flow) Current() string { return f.runner.Current() }

// Lab is the lab the flow installs.
func (f *Flow) Lab() *config.Lab { return f.d.Lab }

// SetPower replaces a node's power driver (its BMC settings changed); the next poll uses it.
func (f *Flow) SetPower(node string, p Power) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.powers[node] = p
}

func (f *Flow) power(node string) (Power, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.powers[node]
	return p, ok
}

// State returns a copy of what the flow knows about the installer's objects.
func (f *Flow) State() State {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.state
	return s
}

// Observed returns the installer's latest view.
func (f *Flow) Observed() Observed {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.observed
}

// save changes the state and keeps it in the store; the change counts only once saved.
func (f *Flow) save(change func(*State)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	next := f.state
	next.Hosts = cloneMap(f.state.Hosts)
	next.Manifests = cloneMap(f.state.Manifests)
	if f.state.Members != nil {
		next.Members = cloneMap(f.state.Members)
	}
	change(&next)
	if err := f.d.Store.PutDoc(docKind, docStateKey, next); err != nil {
		return fmt.Errorf("flow: save state: %w", err)
	}
	f.state = next
	return nil
}

func cloneMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (f *Flow) observe(update func(*Observed)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	update(&f.observed)
	f.observed.Time = time.Now()
}

// event records a flow event for the status page and logs it.
func (f *Flow) event(level slog.Level, node, msg string) {
	f.d.Log.Log(context.Background(), level, "flow: "+msg, "node", node)
	if _, err := f.d.Store.AppendEvent(store.Event{Level: strings.ToLower(level.String()), Source: "flow", Node: node, Message: msg}); err != nil {
		f.d.Log.Error("flow: record event", "err", err)
	}
}

// Reprovision tears the lab's install down so that the next Run starts from scratch: the
// cluster's install is cancelled, the cluster and its infra env are deleted, the nodes are
// powered off and will boot the discovery image again, and the flow's progress is forgotten.
func (f *Flow) Reprovision(ctx context.Context) error {
	id, err := f.findCluster(ctx)
	if err != nil {
		return fmt.Errorf("reprovision: find the cluster: %w", err)
	}
	if id != "" {
		ignore := func(err error, kinds ...error) error {
			for _, k := range kinds {
				if errors.Is(err, k) {
					return nil
				}
			}
			return err
		}
		// A running install is cancelled first; an infra env goes only once its hosts are gone.
		if _, err := f.d.AI.CancelInstallation(ctx, id); ignore(err, ai.ErrConflict, ai.ErrNotFound) != nil {
			return fmt.Errorf("reprovision: %w", err)
		}
		envs, err := f.d.AI.ListInfraEnvs(ctx, id)
		if err != nil {
			return fmt.Errorf("reprovision: %w", err)
		}
		for _, ie := range envs {
			hosts, err := f.d.AI.InfraEnvHosts(ctx, ie.ID)
			if err != nil {
				return fmt.Errorf("reprovision: %w", err)
			}
			for _, h := range hosts {
				if err := f.d.AI.DeleteHost(ctx, ie.ID, h.ID); ignore(err, ai.ErrNotFound) != nil {
					return fmt.Errorf("reprovision: %w", err)
				}
			}
			if err := f.d.AI.DeleteInfraEnv(ctx, ie.ID); ignore(err, ai.ErrNotFound) != nil {
				return fmt.Errorf("reprovision: %w", err)
			}
		}
		if err := f.d.AI.DeleteCluster(ctx, id); ignore(err, ai.ErrNotFound) != nil {
			return fmt.Errorf("reprovision: %w", err)
		}
		f.event(slog.LevelWarn, "", fmt.Sprintf("reprovision: deleted cluster %s and its infra env", id))
	}
	for _, n := range f.d.Lab.Nodes {
		if p, ok := f.power(n.Name); ok {
			if err := p.PowerOff(ctx, true); err != nil {
				return fmt.Errorf("reprovision: power off %s: %w", n.Name, err)
			}
		}
		for _, nic := range n.NICs {
			if err := f.d.Boot.SetProfile(string(nic.MAC), ProfileDiscovery); err != nil {
				return fmt.Errorf("reprovision: %w", err)
			}
		}
	}
	if err := f.d.Boot.InvalidateBootCache(); err != nil {
		return fmt.Errorf("reprovision: %w", err)
	}
	return f.Reset()
}

// Reset forgets everything the flow knew; the installer's objects must already be gone.
func (f *Flow) Reset() error {
	for _, key := range []string{docStateKey, docNodesKey} {
		if err := f.d.Store.DeleteDoc(docKind, key); err != nil {
			return fmt.Errorf("flow: reset state: %w", err)
		}
	}
	f.mu.Lock()
	f.state = State{}
	f.observed = Observed{}
	f.nodes = nil
	f.mu.Unlock()
	return f.runner.Reset()
}

// poll calls check every PollInterval until it reports done or fails, or ctx ends.
func (f *Flow) poll(ctx context.Context, check func(ctx context.Context) (bool, error)) error {
	t := time.NewTicker(f.d.PollInterval)
	defer t.Stop()
	for {
		f.d.Heartbeat()
		done, err := f.measurePoll(func() (bool, error) { return check(ctx) })
		if err != nil || done {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
