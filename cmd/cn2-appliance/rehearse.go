package main

import (
	"context"
	"fmt"
	"os/signal"
	"syscall"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/rehearsal"
	"github.com/spf13/cobra"
)

func newRehearseCmd(g *globalFlags) *cobra.Command {
	var o rehearsal.Options
	var timeout time.Duration
	var keepState bool
	cmd := &cobra.Command{
		Use:   "rehearse",
		Short: "Run the whole appliance against the lab on loopback, with a simulated installer and simulated nodes that really netboot, to installed",
		Long: "rehearse moves the lab's networks onto loopback (network i becomes 127.<i+1>.x.y), serves DNS, DHCP, TFTP and\n" +
			"HTTP on free high ports, runs the Assisted Installer simulator in-process, and boots simulated nodes through\n" +
			"the appliance's own DHCP (as relays), TFTP and HTTP. It needs no root and sends nothing off this machine.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(cmd.ErrOrStderr(), g.logFormat, g.logLevel)
			if err != nil {
				return err
			}
			o.Log, o.Out = log, cmd.OutOrStdout()
			if keepState {
				o.StateDir = g.stateDir
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			r, err := rehearsal.Run(ctx, g.config, o)
			if err != nil {
				return fmt.Errorf("rehearsal: %w", err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "\nrehearsal: installed in %s\n", r.Duration.Round(time.Second))
			fmt.Fprintf(out, "  cluster %s; the installer holds %d cluster, %d infra env, %d hosts\n", r.ClusterID, r.Clusters, r.InfraEnvs, r.Hosts)
			fmt.Fprintf(out, "  %d network boots through DHCP, TFTP and HTTP; %d spec violations in the installer's answers\n", r.NetBoots, r.Violations)
			for _, s := range r.Steps {
				fmt.Fprintf(out, "  %-22s %-7s %3d attempt(s) %s\n", s.Name, s.State, s.Attempts, s.Finished.Sub(s.Started).Round(time.Millisecond))
			}
			if r.Clusters != 1 || r.InfraEnvs != 1 || r.Violations != 0 {
				return exitError{1}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.Float64Var(&o.TimeScale, "time-scale", 0.03, "how fast simulated time runs (1 = a real install's pace)")
	f.StringVar(&o.StatusListen, "status-listen", "", "status page address (default: 127.0.0.1 on a free port)")
	f.DurationVar(&timeout, "timeout", 10*time.Minute, "give up after this long")
	f.DurationVar(&o.Hold, "hold", 0, "keep serving the status page this long after the install (e.g. 10m)")
	f.BoolVar(&keepState, "keep-state", false, "keep the state in --state-dir instead of a temporary folder")
	f.StringArrayVar(&o.SkipPreflight, "skip-preflight", nil, "do not run this preflight check (repeatable; see cn2-appliance doctor --help)")
	return cmd
}
