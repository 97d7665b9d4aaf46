package main

import (
	"github.com/spf13/cobra"
)

func newServeCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the appliance: serve the lab's services until SIGTERM; SIGHUP re-reads the lab file",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return nil
		},
	}
}
