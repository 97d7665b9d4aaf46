// Command cn2-appliance is the lab appliance daemon and its command-line tools: it serves DHCP,
// DNS and network boot for an OpenShift + CN2 lab, drives the nodes' BMCs and the Assisted
// Installer, all from one lab file.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// exitError carries an exit code for errors already reported to the user.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func main() {
	err := newRootCmd().Execute()
	var ee exitError
	switch {
	case errors.As(err, &ee):
		os.Exit(ee.code)
	case err != nil:
		fmt.Fprintln(os.Stderr, "cn2-appliance:", err)
		os.Exit(1)
	}
}

// globalFlags are the flags every command shares.
type globalFlags struct {
	config    string
	stateDir  string
	logFormat string
	logLevel  string
}

func newRootCmd() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:           "cn2-appliance",
		Short:         "Lab appliance for OpenShift + Juniper CN2 installs through the Assisted Installer",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVarP(&g.config, "config", "c", envOr("CN2_APPLIANCE_CONFIG", "/etc/cn2-appliance/lab.yaml"), "lab file (env CN2_APPLIANCE_CONFIG)")
	pf.StringVar(&g.stateDir, "state-dir", envOr("CN2_APPLIANCE_STATE_DIR", "/var/lib/cn2-appliance"), "state folder: leases, install progress, events (env CN2_APPLIANCE_STATE_DIR)")
	pf.StringVar(&g.logFormat, "log-format", envOr("CN2_APPLIANCE_LOG_FORMAT", "auto"), "log format: auto (journal under systemd, else text), text, json or journal")
	pf.StringVar(&g.logLevel, "log-level", envOr("CN2_APPLIANCE_LOG_LEVEL", "info"), "log level: debug, info, warn or error")
	root.AddCommand(newValidateCmd(g), newPlanCmd(g), newServeCmd(g), newStatusCmd(g), newReprovisionCmd(g), newRehearseCmd(g), newReloadCmd(g), newVersionCmd(), newPowerCmd(g), newDoctorCmd(g), newVerifyCmd(g), newReportCmd(g))
	addCompletions(root, g)
	return root
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "cn2-appliance", version)
		},
	}
}
