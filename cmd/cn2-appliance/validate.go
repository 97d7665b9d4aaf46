package main

import (
	"errors"
	"fmt"

	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/spf13/cobra"
)

func newValidateCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Check a lab file; print every problem with file:line:column and exit 1 if there is an error",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
			lab, err := config.Load(g.config)
			var cerr *config.Error
			if errors.As(err, &cerr) {
				for _, p := range cerr.Problems {
					fmt.Fprintln(errOut, p)
				}
				fmt.Fprintf(errOut, "%s: %d error(s)\n", g.config, len(cerr.Problems))
				return exitError{1}
			}
			if err != nil {
				return err
			}
			for _, w := range lab.Warnings {
				fmt.Fprintln(errOut, w)
			}
			fmt.Fprintf(out, "%s: ok (%d nodes on %d networks, zone %s)\n", g.config, len(lab.Nodes), len(lab.Networks), lab.Zone())
			return nil
		},
	}
}
