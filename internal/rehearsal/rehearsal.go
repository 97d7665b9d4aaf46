// Package rehearsal runs the whole appliance against a lab file on one machine, without root
// and without touching anything outside loopback: the lab's networks are moved onto loopback
// (network i becomes 127.<i+1>.x.y, keeping the last two octets), every listener gets a free
// high port, the Assisted Installer is internal/aisim, and the nodes are labsim.NetNodes that
// really boot over the appliance's DHCP, TFTP and HTTP, driven through the real BMC client.
// The install flow runs to `installed`, through the named faults the rehearsal injects into
// the simulated lab (never into the flow), and the Result says what the flow did about each.
package rehearsal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/aisim"
	"github.com/cn2-appliance/cn2-appliance/internal/labsim"
	"github.com/cn2-appliance/cn2-appliance/pkg/appliance"
	"github.com/cn2-appliance/cn2-appliance/pkg/bmc"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/flow"
	"github.com/cn2-appliance/cn2-appliance/pkg/status"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Options configure a rehearsal.
type Options struct {
	// TimeScale shortens the simulated install (default 0.03: about a minute) and, with a
	// floor, the lab's installer timeouts (see scaleTimeouts).
	TimeScale float64
	// Faults are injected into the simulated lab; Seed chooses which node each node fault hits.
	Faults labsim.Faults
	Seed   uint64
	// StateDir holds the appliance's state; a temporary folder when empty.
	StateDir string
	// StatusListen is the status page's address (default 127.0.0.1 on a free port).
	StatusListen string
	// Out receives progress lines; Log the appliance's logs.
	Out io.Writer
	Log *slog.Logger
	// OnStatus is called with the status page's URL once it serves (for tests).
	OnStatus func(url string)
	// Hold keeps the appliance serving this long after the install, so the final status page
	// can be looked at (ctx ending stops it sooner).
	Hold time.Duration
	// SkipPreflight names preflight checks not to run (the rest run loopback-adjusted).
	SkipPreflight []string
	// Boot is how the nodes boot the discovery image (BootMethods; default pxe): each node whose
	// lab BMC driver can boot it that way does, the others boot by PXE (Result.BootKept).
	Boot string
	// Day2 workers are added to the lab after the install (generated names, MACs and
	// addresses in the lab's networks), the appliance reloads it, and they must join the
	// cluster as day-2 workers.
	Day2 int
	// Progress is called with the status snapshot (the lab's own addresses) about five times a
	// second while the flow runs and during the hold, for a live view; nil: not called.
	Progress func(status.Snapshot)
	// RuntimeFile is where the rehearsal says, while it serves, where its status page is (see
	// Running); "": nowhere.
	RuntimeFile string
	// OnPoll receives the install flow's cost of each poll (bench/storm).
	OnPoll func(flow.PollReport)
}

// Result summarises a finished rehearsal.
type Result struct {
	// Duration is how long the rehearsal took to its end (installed, or failed); Held is how
	// long it served the status page after that (Options.Hold), not counted in Duration.
	Duration   time.Duration
	Held       time.Duration
	Installed  bool
	ClusterID  string
	NetBoots   int
	StatusURL  string
	OutputDir  string
	Steps      []flow.StepRecord
	Clusters   int
	InfraEnvs  int
	Hosts      int
	Violations int
	// Day2 are the workers added after the install; Joined counts the lab's nodes that are
	// in the cluster (installed, or added to it and Ready), of Total.
	Day2          []string
	Joined, Total int
	Seed          uint64
	Faults        []FaultReport
	Nodes         []NodeReport
	// Verify is the verify step's summary: the simulated cluster has no API server, so it says
	// that the cluster's API was not checked.
	Verify string
	// Boot is the boot method the rehearsal gave the nodes, BootKept the nodes it could not
	// (they boot by PXE), and Booted how each node booted and how its BMC was left.
	Boot     string
	BootKept []string
	Booted   []BootReport
	// Proxy is what the installer objects carry of the lab's proxy; nil without one.
	Proxy *ProxyReport
	// PollInterval is the flow's; MaxHostCalls the most installer calls naming one host
	// (MaxCallsHost) within any PollInterval.
	PollInterval time.Duration
	MaxHostCalls int
	MaxCallsHost string
	// LastDiscovered is when the last host registered with the installer, InstallStarted
	// when the install started (zero: it did not).
	LastDiscovered, InstallStarted time.Time
	// Problems are why the rehearsal failed; none when it passed.
	Problems []string
}

// Failed is the error of a rehearsal that ran but did not pass; its Result says why.
type Failed struct{ Problems []string }

func (e *Failed) Error() string { return "failed: " + strings.Join(e.Problems, "; ") }

// pollInterval is how often the rehearsal's flow polls the installer.
const pollInterval = 250 * time.Millisecond

// Run rehearses the lab in labPath until the install flow ends or ctx is done. It passes when
// the cluster is installed, the installer holds exactly one cluster and one infra env, none of
// its answers broke the spec, every fault happened, every node booted as often as its faults
// require and no more, and every node's BMC performed exactly the power cycles the flow asked
// for. A rehearsal that ran returns its Result, and a *Failed error when it did not pass.
func Run(ctx context.Context, labPath string, o Options) (*Result, error) {
	start := time.Now()
	if o.TimeScale <= 0 {
		o.TimeScale = 0.03
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if err := validBoot(o.Boot); err != nil {
		return nil, err
	}
	if o.Boot == "" {
		o.Boot = config.BootPXE
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	lab, err := config.Load(labPath)
	if err != nil {
		return nil, err
	}
	fileLab := lab // the lab's own addresses, for the status page
	if o.Faults.Has(labsim.TokenExpiry) && !lab.AssistedInstaller.OfflineToken.IsSet() {
		return nil, fmt.Errorf("fault %s: the lab has no offline token (assistedInstaller.offlineTokenFile), so no access token to expire", labsim.TokenExpiry)
	}
	if o.StateDir == "" {
		dir, err := os.MkdirTemp("", "cn2-rehearsal-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		o.StateDir = dir
	}
	installed := len(lab.Nodes)
	var day2 []string
	if o.Day2 > 0 {
		workers, err := labsim.NewWorkers(lab, o.Day2)
		if err != nil {
			return nil, fmt.Errorf("--day2: %w", err)
		}
		full := *lab
		full.Nodes = append(slices.Clone(lab.Nodes), workers...)
		lab = &full
		for _, w := range workers {
			day2 = append(day2, w.Name)
		}
	}
	// full is the lab with the day-2 workers, lab the one installed first.
	full, err := onLoopback(lab, o)
	if err != nil {
		return nil, err
	}
	kept := bootBy(full, o.Boot)
	scaleTimeouts(&full.AssistedInstaller.Timeouts, o.TimeScale)
	view := newAddrView(fileLab, full)
	first := *full
	first.Nodes = full.Nodes[:installed]
	lab = &first
	var names []string
	for _, n := range lab.Nodes {
		names = append(names, n.Name)
	}
	plan := newFaultPlan(o.Faults, o.Seed, names, start) // the faults hit the install's nodes
	plan.names = nil
	for _, n := range full.Nodes {
		plan.names = append(plan.names, n.Name)
	}

	// The installer: accepts the lab's offline token (if it has one) at its own token endpoint.
	simOpts := aisim.Options{TimeScale: o.TimeScale, Logger: o.Log.With("service", "aisim")}
	if tok := lab.AssistedInstaller.OfflineToken; tok.IsSet() {
		simOpts.Auth = &aisim.Auth{OfflineTokens: []string{string(tok.Reveal())}}
	}
	plan.simOptions(&simOpts, o.Seed)
	sim, err := aisim.New(simOpts)
	if err != nil {
		return nil, err
	}
	defer sim.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	simURL := "http://" + ln.Addr().String()
	lab.AssistedInstaller.URL = simURL
	lab.AssistedInstaller.TokenURL = simURL + aisim.TokenPath
	full.AssistedInstaller.URL, full.AssistedInstaller.TokenURL = lab.AssistedInstaller.URL, lab.AssistedInstaller.TokenURL

	// The nodes, each behind the real BMC client and its retry policy.
	nodes, err := netNodes(full, simURL, o.Log)
	if err != nil {
		ln.Close()
		return nil, err
	}
	power := map[string]flow.Power{}
	asked := map[string]*askedPower{}
	bmcLog := newBMCWarnings(o.Log.With("service", "bmc").Handler())
	plan.bmcLog = bmcLog
	for name, n := range nodes {
		p := &askedPower{Client: bmc.NewWithDriver(bmc.Config{Node: name}, n, bmc.WithLogger(slog.New(bmcLog)))}
		power[name], asked[name] = p, p
	}
	plan.arm(sim, nodes, asked)
	defer close(plan.done)
	simCtx, stopSim := context.WithCancel(context.Background())
	defer stopSim()
	go func() { _ = sim.Serve(simCtx, ln) }()

	st, err := store.Open(o.StateDir)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	app, err := appliance.New(lab, st, reg, o.Log, appliance.Options{Power: power, PollInterval: pollInterval, Gatherer: reg,
		Loopback: true, SkipPreflight: o.SkipPreflight, ClusterAPI: sim.ClusterAPI(), NoClusterAPI: true, SnapshotView: view.apply, OnPoll: o.OnPoll})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Out, "rehearsal: lab %s on loopback (%s), installer simulator at %s\n", lab.Zone(), describeNetworks(lab), simURL)
	fmt.Fprintf(o.Out, "rehearsal: nodes boot by %s\n", o.Boot)
	for _, k := range kept {
		fmt.Fprintf(o.Out, "rehearsal: %s boots by pxe\n", k)
	}
	if len(o.Faults) > 0 {
		fmt.Fprintf(o.Out, "rehearsal: faults (seed %d): %s\n", o.Seed, describeAssignments(plan.assignments))
	}

	appCtx, stopApp := context.WithCancel(ctx)
	defer stopApp()
	appDone := make(chan error, 1)
	go func() { appDone <- app.Run(appCtx) }()

	statusURL := "http://" + lab.Status.Listen.String() + "/"
	if err := waitServing(ctx, statusURL, appDone); err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Out, "rehearsal: status page %s\n", statusURL)
	if o.RuntimeFile != "" {
		remove, err := writeRunning(o.RuntimeFile, Running{Status: lab.Status.Listen.String(), PID: os.Getpid(), Lab: lab.File})
		if err != nil {
			return nil, err
		}
		defer remove()
	}
	if o.OnStatus != nil {
		o.OnStatus(statusURL)
	}
	progress := func() {
		if o.Progress != nil {
			o.Progress(app.Snapshot())
		}
	}

	problem, err := follow(ctx, app, st, plan, appDone, o.Out, progress)
	if err != nil {
		return nil, err
	}
	if problem == "" && len(day2) > 0 {
		problem, err = addDay2(ctx, app, st, plan, appDone, o.Out, progress, full, day2)
		if err != nil {
			return nil, err
		}
	}
	done := problem == ""
	ended := time.Now()
	if done && o.Hold > 0 {
		fmt.Fprintf(o.Out, "rehearsal: installed in %s; the status page stays up for %s (Ctrl-C ends it)\n", ended.Sub(start).Round(time.Second), o.Hold)
		hold(ctx, o.Hold, progress)
	}
	held := time.Since(ended)
	stopApp()
	<-appDone

	r := &Result{
		Duration:   ended.Sub(start),
		Held:       held,
		Installed:  done,
		Day2:       day2,
		Total:      len(app.Lab().Nodes),
		ClusterID:  app.Flow().State().ClusterID,
		StatusURL:  statusURL,
		OutputDir:  filepath.Join(o.StateDir, appliance.OutputDir),
		Steps:      app.Flow().Steps(),
		Violations: len(sim.Violations()),
		Seed:       o.Seed,
		Nodes:      plan.nodeReports(),
		Boot:       o.Boot,
		BootKept:   kept,
		Booted:     bootReports(full, nodes),
	}
	if v := app.VerifyReport(); v != nil {
		r.Verify = v.Summary()
	}
	r.Clusters, r.InfraEnvs, r.Hosts = sim.Counts()
	r.PollInterval = pollInterval
	r.MaxHostCalls, r.MaxCallsHost = sim.MaxHostCalls(pollInterval)
	r.LastDiscovered, r.InstallStarted = sim.Milestones()
	r.Joined = joined(app, sim)
	for _, n := range nodes {
		r.NetBoots += n.Boots()
	}
	events, err := st.Events(0, 0)
	if err != nil {
		return nil, err
	}
	r.Faults = plan.faultReports(events)
	if problem != "" {
		r.Problems = append(r.Problems, problem)
	}
	r.Problems = append(r.Problems, r.check()...)
	r.Problems = append(r.Problems, checkBoots(r.Booted, r.Installed)...)
	r.Proxy = proxyReport(sim, lab)
	r.Problems = append(r.Problems, r.Proxy.problems(lab)...)
	if problem := plan.strangerProblem(); problem != "" {
		r.Problems = append(r.Problems, problem)
	}
	if len(r.Problems) > 0 {
		return r, &Failed{Problems: r.Problems}
	}
	return r, nil
}

// follow prints each step as it ends, each fault as it happens and each warning of the flow,
// until the flow is done (""), or it cannot pass any more, or ctx ends (what went wrong).
// err is for an appliance that stopped.
func follow(ctx context.Context, app *appliance.Appliance, st *store.Store, plan *faultPlan, appDone <-chan error, out io.Writer, progress func()) (problem string, err error) {
	printed := map[string]bool{}
	injections, lastSeq := 0, uint64(0)
	at := func(t time.Time) string { return "+" + t.Sub(plan.start).Round(10*time.Millisecond).String() }
	report := func() {
		for _, s := range app.Flow().Steps() {
			if (s.State == flow.StateDone || s.State == flow.StateFailed) && !printed[s.Name+s.State] {
				printed[s.Name+s.State] = true
				fmt.Fprintf(out, "rehearsal: %-22s %s %s\n", s.Name, s.State, s.LastError)
			}
		}
		list := plan.injections.List()
		for _, in := range list[injections:] {
			fmt.Fprintf(out, "rehearsal: fault %s%s at %s: %s\n", in.Fault, onNode(in.Node), at(in.At), in.What)
		}
		injections = len(list)
		events, _ := st.Events(lastSeq, 0)
		for _, e := range events {
			lastSeq = e.Seq
			if e.Source == "flow" && e.Level == "warn" {
				fmt.Fprintf(out, "rehearsal: flow%s at %s: %s\n", onNode(e.Node), at(e.Time), e.Message)
			}
		}
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for app.Flow().Current() != "" {
		report()
		progress()
		if plan.resent() {
			return "stopped early: a power cycle was sent again, which nothing can undo", nil
		}
		select {
		case err := <-appDone:
			return "", fmt.Errorf("the appliance stopped: %v", err)
		case <-ctx.Done():
			return fmt.Sprintf("not installed after %s (%v): %s", time.Since(plan.start).Round(time.Second), ctx.Err(), stuckAt(app)), nil
		case <-tick.C:
		}
	}
	report()
	progress()
	return "", nil
}

// hold waits d (or until ctx ends), calling progress as follow does.
func hold(ctx context.Context, d time.Duration, progress func()) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	end := time.After(d)
	for {
		progress()
		select {
		case <-ctx.Done():
			return
		case <-end:
			return
		case <-tick.C:
		}
	}
}

// stuckAt says where the install stands: the flow's step and the nodes' hosts.
func stuckAt(app *appliance.Appliance) string {
	f := app.Flow()
	where := "the flow is at " + f.Current()
	for _, s := range f.Steps() {
		if s.Name == f.Current() {
			where += fmt.Sprintf(" (%s, %d attempt(s)", s.State, s.Attempts)
			if s.LastError != "" {
				where += ", last error: " + s.LastError
			}
			where += ")"
		}
	}
	byMAC := macIndex(f.Observed().Hosts)
	var parts []string
	for _, n := range app.Lab().Nodes {
		state := "no host"
		for _, nic := range n.NICs {
			if h := byMAC[strings.ToLower(string(nic.MAC))]; h != nil {
				state = h.Status
				if p := h.Progress; p != nil && p.CurrentStage != "" {
					state += " at " + p.CurrentStage
				}
			}
		}
		parts = append(parts, n.Name+" "+state)
	}
	return where + "; hosts: " + strings.Join(parts, ", ")
}

// check lists what keeps a finished rehearsal from passing.
func (r *Result) check() []string {
	var out []string
	wantEnvs := 1
	if len(r.Day2) > 0 {
		wantEnvs = 2 // the install's and the day-2 workers'
	}
	if r.Clusters != 1 || r.InfraEnvs != wantEnvs {
		out = append(out, fmt.Sprintf("the installer holds %d cluster(s) and %d infra env(s), want 1 and %d", r.Clusters, r.InfraEnvs, wantEnvs))
	}
	if r.Installed && r.Joined != r.Total {
		out = append(out, fmt.Sprintf("%d of the lab's %d nodes are in the cluster", r.Joined, r.Total))
	}
	if r.Violations != 0 {
		out = append(out, fmt.Sprintf("%d of the installer's answers broke the spec", r.Violations))
	}
	for _, f := range r.Faults {
		if r.Installed && !f.Injected {
			out = append(out, fmt.Sprintf("fault %s%s never happened", f.Fault, onNode(f.Node)))
		}
	}
	for _, n := range r.Nodes {
		if n.Cycles != n.CyclesAsked {
			out = append(out, fmt.Sprintf("%s: its BMC performed %d power cycle(s), the flow asked for %d", n.Name, n.Cycles, n.CyclesAsked))
		}
		if n.FailedBoots > 0 {
			out = append(out, fmt.Sprintf("%s: %d network boot(s) broke off", n.Name, n.FailedBoots))
		}
		if r.Installed && n.Boots != n.WantBoots {
			out = append(out, fmt.Sprintf("%s booted %s, want %s", n.Name, n.Boots, n.WantBoots))
		}
	}
	return out
}

func (b Boots) String() string {
	return fmt.Sprintf("%d× discovery, %d× disk, %d firmware hang(s)", b.Discovery, b.Disk, b.FirmwareHangs)
}

func onNode(node string) string {
	if node == "" {
		return " on the installer"
	}
	return " on " + node
}

func describeAssignments(as []labsim.Assignment) string {
	var parts []string
	for _, a := range as {
		parts = append(parts, string(a.Fault)+onNode(a.Node))
	}
	return strings.Join(parts, ", ")
}

func waitServing(ctx context.Context, url string, appDone <-chan error) error {
	for range 300 {
		if resp, err := http.Get(url + "healthz"); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case err := <-appDone:
			return fmt.Errorf("the appliance stopped: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return errors.New("the status page never answered")
}

// netNodes makes a simulated node per lab node that boots from its machine-network NIC and
// asks DHCP on its other NICs once booted, relaying each NIC's DHCP through the node's own
// loopback address in that NIC's network.
func netNodes(lab *config.Lab, simURL string, log *slog.Logger) (map[string]*labsim.NetNode, error) {
	mn := lab.MachineNetwork()
	out := map[string]*labsim.NetNode{}
	for i, n := range lab.Nodes {
		node := &labsim.NetNode{
			Power:      labsim.Power{Control: simURL, Hostname: n.Name},
			DHCPServer: netip.AddrPortFrom(mn.Address, uint16(lab.DHCP.Port)),
			Relay:      relayAddr(mn.CIDR, i),
			TFTPPort:   lab.Boot.TFTPPort,
			Log:        log,
		}
		for _, nic := range n.NICs {
			node.MACs = append(node.MACs, string(nic.MAC))
			net := lab.Network(nic.Network)
			if net == nil {
				continue
			}
			node.IPs = append(node.IPs, netip.PrefixFrom(nic.IP, net.CIDR.Bits()).String())
			if net.CIDR == mn.CIDR && node.BootMAC == nil {
				node.BootMAC, node.WantIP = nic.MAC.HardwareAddr(), nic.IP
				node.HTTPFrom = nic.IP // on loopback: each node is its own HTTP client
				continue
			}
			if nic.IP.IsValid() { // a NIC without a reservation gets whatever the pool has: not checked
				node.OtherNICs = append(node.OtherNICs, labsim.NIC{MAC: nic.MAC.HardwareAddr(), WantIP: nic.IP, Relay: relayAddr(net.CIDR, i)})
			}
		}
		out[n.Name] = node
	}
	return out, nil
}

// relayAddr is node i's relay (giaddr) address: counted down from the top of the network,
// below the broadcast address and the usual .254 gateway.
func relayAddr(p netip.Prefix, i int) netip.Addr {
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 3 - uint32(i)
	n := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]) | host
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}
