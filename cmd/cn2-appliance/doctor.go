package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/appliance"
	"github.com/cn2-appliance/cn2-appliance/pkg/doctor"
	"github.com/spf13/cobra"
)

// doctorTimeout bounds the whole run; each check has its own, shorter deadline.
const doctorTimeout = 60 * time.Second

func newDoctorCmd(g *globalFlags) *cobra.Command {
	var format string
	var skip []string
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check the lab as the appliance will serve it, before any node boots; exit 1 on an error",
		Long: "doctor runs every preflight check against the lab file: " + strings.Join(doctor.Names(), ", ") + ".\n" +
			"It prints one line per finding (check, target, result, what to do) and exits 0 when nothing is an\n" +
			"error (warnings are allowed), 1 otherwise. It needs root for the ARP and DHCP probes. The DNS check\n" +
			"asks the appliance's own DNS server, built in-process from the lab on a loopback port, so doctor\n" +
			"runs before serve and needs none of the lab's ports. The serve command runs the same checks as the\n" +
			"install flow's first step, preflight.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "table" && format != "json" {
				return fmt.Errorf("-o %q: want table or json", format)
			}
			if err := doctor.ValidateSkip(skip); err != nil {
				return err
			}
			level := g.logLevel
			if level != "debug" {
				level = "warn" // the table is the output; the in-process DNS server's info lines are noise
			}
			log, err := newLogger(cmd.ErrOrStderr(), g.logFormat, level)
			if err != nil {
				return err
			}
			lab, err := loadLab(g.config, log)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			ctx, cancel := context.WithTimeout(ctx, doctorTimeout)
			defer cancel()
			r, err := appliance.RunDoctor(ctx, lab, appliance.DoctorOptions{Skip: skip, Log: log})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				err = enc.Encode(r)
			} else {
				err = r.WriteTable(out)
			}
			if err != nil {
				return err
			}
			if r.Failed() {
				return exitError{1}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "table", "output format: table or json")
	cmd.Flags().StringArrayVar(&skip, "skip", nil, "do not run this check (repeatable): "+strings.Join(doctor.Names(), ", "))
	return cmd
}
