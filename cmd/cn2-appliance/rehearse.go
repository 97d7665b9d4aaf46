package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/labsim"
	"github.com/cn2-appliance/cn2-appliance/internal/rehearsal"
	"github.com/spf13/cobra"
)

func newRehearseCmd(g *globalFlags) *cobra.Command {
	var o rehearsal.Options
	var timeout time.Duration
	var keepState bool
	var faults string
	cmd := &cobra.Command{
		Use:   "rehearse",
		Short: "Run the whole appliance against the lab on loopback, with a simulated installer and simulated nodes that really netboot, to installed",
		Long: "rehearse moves the lab's networks onto loopback (network i becomes 127.<i+1>.x.y), serves DNS, DHCP, TFTP and\n" +
			"HTTP on free high ports, runs the Assisted Installer simulator in-process, and boots simulated nodes through\n" +
			"the appliance's own DHCP (as relays), TFTP and HTTP. It needs no root and sends nothing off this machine.\n\n" +
			"--faults injects named faults into the simulated lab (a comma-separated list, or all):\n" +
			"  firmware-hang          a node's first boot hangs in firmware and never sends DHCP\n" +
			"  power-off-after-write  a node powers off instead of rebooting once its image is written\n" +
			"  discovery-after-write  a node boots the discovery image again after writing its disk\n" +
			"  bmc-lost-reply         a BMC performs a power cycle, but its reply is lost (once)\n" +
			"  bmc-slow               a BMC performs its first power action and answers 15 s later\n" +
			"  installer-5xx          20 % of the installer's API calls fail with a 5xx after a delay\n" +
			"  token-expiry           the access token expires as the cluster starts installing\n" +
			"--seed chooses which node each node fault hits; the same seed always chooses the same nodes.\n" +
			"--boot sets how the nodes boot the discovery image: pxe (DHCP, TFTP, iPXE), virtual-media (the BMC attaches\n" +
			"the appliance's ISO as a virtual CD, which the node reads with Range requests) or uefi-http (the BMC sets the\n" +
			"appliance's ipxe.efi as the UEFI HTTP boot URI). A node whose lab BMC driver cannot boot that way (IPMI: no\n" +
			"virtual media, no HTTP boot URI) boots by PXE, and the rehearsal says so.\n" +
			"Progress goes to stdout: on a terminal as a live view (one line per step and per node, redrawn in\n" +
			"place), else as plain lines. The appliance's logs go to a file whose path it prints first, unless\n" +
			"--log-level (or CN2_APPLIANCE_LOG_LEVEL) is given: then to stderr, at that level.\n" +
			"--day2 N adds N workers to the lab once it is installed and reloads it: they must join the cluster as\n" +
			"day-2 workers (the cluster API that approves their CSRs is the simulator's stand-in).\n" +
			"The rehearsal fails unless the lab is installed with one cluster and one infra env, every fault\n" +
			"happened, every node booted as often as its faults require, and no BMC power-cycled a node more\n" +
			"often than the flow asked.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if o.Faults, err = labsim.ParseFaults(faults); err != nil {
				return fmt.Errorf("--faults: %w", err)
			}
			if !slices.Contains(rehearsal.BootMethods, o.Boot) {
				return fmt.Errorf("--boot %q: want one of %s", o.Boot, strings.Join(rehearsal.BootMethods, ", "))
			}
			out := cmd.OutOrStdout()
			if width, ok := terminalWidth(out); ok {
				view := newLiveView(out, width)
				o.Out, o.Progress = view, view.Update
			} else {
				o.Out = out
			}
			logTo, closeLog, err := rehearsalLog(cmd, o.Out)
			if err != nil {
				return err
			}
			defer closeLog()
			if o.Log, err = newLogger(logTo, g.logFormat, g.logLevel); err != nil {
				return err
			}
			o.RuntimeFile = rehearsal.DefaultRuntimeFile()
			if keepState {
				o.StateDir = g.stateDir
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			r, err := rehearsal.Run(ctx, g.config, o)
			if r != nil {
				printRehearsal(out, r)
			}
			var failed *rehearsal.Failed
			if errors.As(err, &failed) {
				fmt.Fprintf(cmd.ErrOrStderr(), "rehearsal FAILED:\n  %s\n", strings.Join(failed.Problems, "\n  "))
				return exitError{1}
			}
			if err != nil {
				return fmt.Errorf("rehearsal: %w", err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.Float64Var(&o.TimeScale, "time-scale", 0.03, "how fast simulated time runs (1 = a real install's pace); the lab's installer timeouts shrink with it (to 10s at least)")
	f.StringVar(&faults, "faults", "", "faults to inject into the simulated lab: a comma-separated list of "+labsim.Faults(labsim.AllFaults).String()+", or all")
	f.Uint64Var(&o.Seed, "seed", 1, "chooses which node each fault hits")
	f.StringVar(&o.Boot, "boot", "pxe", "how the nodes boot the discovery image: "+strings.Join(rehearsal.BootMethods, ", "))
	f.IntVar(&o.Day2, "day2", 0, "after the install, add this many workers to the lab (generated names, MACs and addresses in its networks), reload it, and check that they join the cluster as day-2 workers")
	f.StringVar(&o.StatusListen, "status-listen", "", "status page address (default: 127.0.0.1 on a free port)")
	f.DurationVar(&timeout, "timeout", 10*time.Minute, "give up after this long")
	f.DurationVar(&o.Hold, "hold", 0, "keep serving the status page this long after the install (e.g. 10m)")
	f.BoolVar(&keepState, "keep-state", false, "keep the state in --state-dir instead of a temporary folder")
	f.StringArrayVar(&o.SkipPreflight, "skip-preflight", nil, "do not run this preflight check (repeatable; see cn2-appliance doctor --help)")
	return cmd
}

// printRehearsal prints a rehearsal's summary: the installer's objects, the steps, each fault
// with what was done about it, and each node's boots and power cycles.
func printRehearsal(out io.Writer, r *rehearsal.Result) {
	if r.Installed {
		fmt.Fprintf(out, "\nrehearsal: installed in %s", r.Duration.Round(time.Second))
		if r.Held > 0 {
			fmt.Fprintf(out, " (then the status page was held for %s)", r.Held.Round(time.Second))
		}
		fmt.Fprintln(out)
	} else {
		fmt.Fprintf(out, "\nrehearsal: NOT installed after %s\n", r.Duration.Round(time.Second))
	}
	fmt.Fprintf(out, "  cluster %s; the installer holds %d cluster, %d infra env, %d hosts\n", r.ClusterID, r.Clusters, r.InfraEnvs, r.Hosts)
	fmt.Fprintf(out, "  %d of the lab's %d nodes in the cluster", r.Joined, r.Total)
	if len(r.Day2) > 0 {
		fmt.Fprintf(out, " (day-2 workers: %s)", strings.Join(r.Day2, ", "))
	}
	fmt.Fprintln(out)
	if r.Boot == "" || r.Boot == "pxe" {
		fmt.Fprintf(out, "  %d network boots through DHCP, TFTP and HTTP; %d spec violations in the installer's answers\n", r.NetBoots, r.Violations)
	} else {
		fmt.Fprintf(out, "  %d discovery boots (nodes boot by %s); %d spec violations in the installer's answers\n", r.NetBoots, r.Boot, r.Violations)
	}
	if len(r.BootKept) > 0 {
		fmt.Fprintf(out, "  booted by pxe instead: %s\n", strings.Join(r.BootKept, ", "))
	}
	if r.Verify != "" {
		fmt.Fprintf(out, "  verify: %s\n", r.Verify)
	}
	for _, s := range r.Steps {
		took := ""
		if !s.Finished.IsZero() {
			took = s.Finished.Sub(s.Started).Round(time.Millisecond).String()
		}
		fmt.Fprintf(out, "  %-22s %-7s %3d attempt(s) %s\n", s.Name, s.State, s.Attempts, took)
	}
	if len(r.Faults) > 0 {
		fmt.Fprintf(out, "\n  faults (seed %d):\n", r.Seed)
		fmt.Fprintf(out, "  %-22s %-10s %-9s %s\n", "FAULT", "NODE", "INJECTED", "REMEDY (AT)")
	}
	for _, f := range r.Faults {
		node := f.Node
		if node == "" {
			node = "installer"
		}
		injected := "never"
		if f.Injected {
			injected = "+" + f.At.String()
		}
		var remedies []string
		for _, m := range f.Remedies {
			at := "throughout"
			if m.At >= 0 {
				at = "+" + m.At.String()
			}
			remedies = append(remedies, fmt.Sprintf("%s: %s (%s)", m.By, m.What, at))
		}
		if len(remedies) == 0 {
			remedies = []string{"none recorded"}
		}
		fmt.Fprintf(out, "  %-22s %-10s %-9s %s\n", f.Fault, node, injected, strings.Join(remedies, "; "))
	}
	if r.Boot != "" && r.Boot != "pxe" {
		fmt.Fprintf(out, "\n  %-10s %-14s %-12s %-18s %-11s %s\n", "NODE", "BOOT METHOD", "NEXT BOOT", "CD INSERTS/EJECTS", "ISO RANGES", "HTTP BOOTS")
		for _, b := range r.Booted {
			fmt.Fprintf(out, "  %-10s %-14s %-12s %-18s %-11d %d\n", b.Node, b.Method, b.Device, fmt.Sprintf("%d/%d", b.MediaInserts, b.MediaEjects), b.ISORanges, b.HTTPBoots)
		}
	}
	if len(r.Nodes) > 0 {
		fmt.Fprintf(out, "\n  %-10s %-28s %-8s %s\n", "NODE", "BOOTS (discovery/disk/hang)", "WANT", "POWER CYCLES (performed/asked)")
	}
	for _, n := range r.Nodes {
		fmt.Fprintf(out, "  %-10s %-28s %-8s %d/%d\n", n.Name,
			fmt.Sprintf("%d/%d/%d", n.Boots.Discovery, n.Boots.Disk, n.Boots.FirmwareHangs),
			fmt.Sprintf("%d/%d/%d", n.WantBoots.Discovery, n.WantBoots.Disk, n.WantBoots.FirmwareHangs),
			n.Cycles, n.CyclesAsked)
	}
}

// rehearsalLog is where the rehearsal's logs go: stderr when the log level was asked for
// (--log-level or its environment variable), else a new file in the temporary folder, whose
// path is printed to out.
func rehearsalLog(cmd *cobra.Command, out io.Writer) (io.Writer, func(), error) {
	if cmd.Flags().Changed("log-level") || os.Getenv("CN2_APPLIANCE_LOG_LEVEL") != "" {
		return cmd.ErrOrStderr(), func() {}, nil
	}
	f, err := os.CreateTemp("", "cn2-rehearsal-*.log")
	if err != nil {
		return nil, nil, fmt.Errorf("rehearsal log: %w", err)
	}
	fmt.Fprintf(out, "rehearsal: logs in %s (--log-level LEVEL sends them to stderr instead)\n", f.Name())
	return f, func() { f.Close() }, nil
}
