package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/cn2-appliance/cn2-appliance/internal/rehearsal"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/spf13/cobra"
)

// statusAddr is the status listener `status` asks when --addr is not given: the lab file's
// status.listen; when no lab file was named (-c, CN2_APPLIANCE_CONFIG) and the default one
// does not exist (a dev checkout), the status page of the rehearsal running on this machine,
// from the runtime file it writes (rehearsal.DefaultRuntimeFile).
func statusAddr(cmd *cobra.Command, g *globalFlags) (string, error) {
	named := cmd.Flags().Changed("config") || os.Getenv("CN2_APPLIANCE_CONFIG") != ""
	if _, err := os.Stat(g.config); !named && errors.Is(err, fs.ErrNotExist) {
		r, rerr := rehearsal.ReadRunning(rehearsal.DefaultRuntimeFile())
		if rerr != nil {
			if errors.Is(rerr, fs.ErrNotExist) {
				rerr = errors.New("no rehearsal runs")
			}
			return "", fmt.Errorf("no lab file at %s and %v: give the status address (--addr HOST:PORT) or the lab file (-c FILE)", g.config, rerr)
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "cn2-appliance: the rehearsal of %s (pid %d), status at %s\n", r.Lab, r.PID, r.Status)
		return r.Status, nil
	}
	lab, err := config.Load(g.config)
	if err != nil {
		return "", err
	}
	return lab.Status.Listen.String(), nil
}
