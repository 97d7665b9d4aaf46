// Package rehearsal runs the whole appliance against a lab file on one machine, without root
// and without touching anything outside loopback: the lab's networks are moved onto loopback
// (network i becomes 127.<i+1>.x.y, keeping the last two octets), every listener gets a free
// high port, the Assisted Installer is internal/aisim, and the nodes are labsim.NetNodes that
// really boot over the appliance's DHCP, TFTP and HTTP. The install flow runs to `installed`.
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
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/aisim"
	"github.com/cn2-appliance/cn2-appliance/internal/labsim"
	"github.com/cn2-appliance/cn2-appliance/pkg/appliance"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/flow"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Options configure a rehearsal.
type Options struct {
	// TimeScale shortens the simulated install (default 0.03: about a minute).
	TimeScale float64
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
}

// Result summarises a finished rehearsal.
type Result struct {
	Duration   time.Duration
	ClusterID  string
	NetBoots   int
	StatusURL  string
	OutputDir  string
	Steps      []flow.StepRecord
	Clusters   int
	InfraEnvs  int
	Hosts      int
	Violations int
}

// Run rehearses the lab in labPath until the install flow ends or ctx is done.
func Run(ctx context.Context, labPath string, o Options) (*Result, error) {
	start := time.Now()
	if o.TimeScale <= 0 {
		o.TimeScale = 0.03
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	lab, err := config.Load(labPath)
	if err != nil {
		return nil, err
	}
	if o.StateDir == "" {
		dir, err := os.MkdirTemp("", "cn2-rehearsal-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		o.StateDir = dir
	}
	lab, err = onLoopback(lab, o)
	if err != nil {
		return nil, err
	}

	// The installer: accepts the lab's offline token (if it has one) at its own token endpoint.
	simOpts := aisim.Options{TimeScale: o.TimeScale, Logger: o.Log.With("service", "aisim")}
	if tok := lab.AssistedInstaller.OfflineToken; tok.IsSet() {
		simOpts.Auth = &aisim.Auth{OfflineTokens: []string{string(tok.Reveal())}}
	}
	sim, err := aisim.New(simOpts)
	if err != nil {
		return nil, err
	}
	defer sim.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	simCtx, stopSim := context.WithCancel(context.Background())
	defer stopSim()
	go func() { _ = sim.Serve(simCtx, ln) }()
	simURL := "http://" + ln.Addr().String()
	lab.AssistedInstaller.URL = simURL
	lab.AssistedInstaller.TokenURL = simURL + aisim.TokenPath

	nodes, err := netNodes(lab, simURL, o.Log)
	if err != nil {
		return nil, err
	}
	power := map[string]flow.Power{}
	for name, n := range nodes {
		power[name] = n
	}

	st, err := store.Open(o.StateDir)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	app, err := appliance.New(lab, st, reg, o.Log, appliance.Options{Power: power, PollInterval: 250 * time.Millisecond, Gatherer: reg,
		Loopback: true, SkipPreflight: o.SkipPreflight})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Out, "rehearsal: lab %s on loopback (%s), installer simulator at %s\n", lab.Zone(), describeNetworks(lab), simURL)

	appCtx, stopApp := context.WithCancel(ctx)
	defer stopApp()
	appDone := make(chan error, 1)
	go func() { appDone <- app.Run(appCtx) }()

	statusURL := "http://" + lab.Status.Listen.String() + "/"
	if err := waitServing(ctx, statusURL, appDone); err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Out, "rehearsal: status page %s\n", statusURL)
	if o.OnStatus != nil {
		o.OnStatus(statusURL)
	}

	// Follow the flow and print each step as it ends.
	printed := map[string]bool{}
	report := func() {
		for _, s := range app.Flow().Steps() {
			if (s.State == flow.StateDone || s.State == flow.StateFailed) && !printed[s.Name+s.State] {
				printed[s.Name+s.State] = true
				fmt.Fprintf(o.Out, "rehearsal: %-22s %s %s\n", s.Name, s.State, s.LastError)
			}
		}
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for app.Flow().Current() != "" {
		report()
		select {
		case err := <-appDone:
			return nil, fmt.Errorf("the appliance stopped: %v", err)
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
	report()
	if o.Hold > 0 {
		fmt.Fprintf(o.Out, "rehearsal: installed; the status page stays up for %s (Ctrl-C ends it)\n", o.Hold)
		select {
		case <-ctx.Done():
		case <-time.After(o.Hold):
		}
	}

	r := &Result{
		Duration:   time.Since(start),
		ClusterID:  app.Flow().State().ClusterID,
		StatusURL:  statusURL,
		OutputDir:  filepath.Join(o.StateDir, appliance.OutputDir),
		Steps:      app.Flow().Steps(),
		Violations: len(sim.Violations()),
	}
	r.Clusters, r.InfraEnvs, r.Hosts = sim.Counts()
	for _, n := range nodes {
		r.NetBoots += n.Boots()
	}
	stopApp()
	<-appDone
	return r, nil
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

// netNodes makes a simulated node per lab node that boots from its machine-network NIC,
// relaying its DHCP through its own loopback address in that network.
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
			if net := lab.Network(nic.Network); net != nil {
				node.IPs = append(node.IPs, netip.PrefixFrom(nic.IP, net.CIDR.Bits()).String())
				if net.CIDR == mn.CIDR {
					node.BootMAC, node.WantIP = nic.MAC.HardwareAddr(), nic.IP
				}
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
