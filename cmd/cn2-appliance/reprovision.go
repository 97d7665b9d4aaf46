package main

import (
	"errors"
	"fmt"

	"github.com/cn2-appliance/cn2-appliance/pkg/appliance"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
	"github.com/spf13/cobra"
)

func newReprovisionCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "reprovision",
		Short: "Delete the lab's cluster at the installer, power the nodes off and forget the install, so the next start installs from scratch",
		Long: "reprovision cancels the install, deletes the cluster and its infra env at the Assisted Installer, powers\n" +
			"the nodes off, sets their boot profiles back to discovery and clears the install's progress. It needs the\n" +
			"state folder to itself: stop the service first (systemctl stop cn2-appliance), then start it again.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, lab, err := g.logAndLab(cmd)
			if err != nil {
				return err
			}
			st, err := store.Open(g.stateDir)
			if errors.Is(err, store.ErrInUse) {
				return fmt.Errorf("the appliance is running on %s: stop it first (systemctl stop cn2-appliance), reprovision, then start it", g.stateDir)
			}
			if err != nil {
				return err
			}
			defer st.Close()
			if err := appliance.Reprovision(cmd.Context(), lab, st, log, appliance.Options{}); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s reprovisioned: start the appliance to install it again\n", lab.Zone())
			return nil
		},
	}
}
