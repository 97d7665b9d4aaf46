package main

import (
	"errors"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/appliance"
	"github.com/cn2-appliance/cn2-appliance/pkg/verify"
	"github.com/spf13/cobra"
)

func newVerifyCmd(g *globalFlags) *cobra.Command {
	var wait bool
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check the installed cluster through its API: nodes Ready, cluster operators Available, every pod Running or Succeeded",
		Long: "verify reads the kubeconfig the install wrote (<state-dir>/auth/kubeconfig) and checks the cluster as the\n" +
			"runbook's last steps do: every lab node is a Kubernetes node and Ready, every ClusterOperator is Available\n" +
			"and not Degraded, every pod is Running or Succeeded (the CN2 pods listed on their own), and DPDK workers\n" +
			"carry their labels. It reaches api.<cluster>.<baseDomain> through the appliance's DNS, so the appliance must\n" +
			"be serving. It checks once, or with --wait until assistedInstaller.timeouts.verify. Exit status 0: all\n" +
			"right; 1: something is not (listed with a hint).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, lab, err := g.logAndLab(cmd)
			if err != nil {
				return err
			}
			var timeout time.Duration
			if wait {
				timeout = lab.AssistedInstaller.Timeouts.Verify.D()
			}
			r, err := appliance.VerifyCluster(cmd.Context(), lab, g.stateDir, timeout, interval, nil)
			var notRight *verify.NotRightError
			if err != nil && !errors.As(err, &notRight) {
				return err
			}
			if err := verify.WriteTable(cmd.OutOrStdout(), r); err != nil {
				return err
			}
			if !r.OK() {
				return exitError{code: 1}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&wait, "wait", false, "check again until the cluster is right or assistedInstaller.timeouts.verify passes")
	f.DurationVar(&interval, "interval", 15*time.Second, "with --wait, the time between checks")
	return cmd
}
