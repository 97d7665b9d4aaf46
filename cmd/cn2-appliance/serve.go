package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/appliance"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
)

func newServeCmd(g *globalFlags) *cobra.Command {
	var opts appliance.Options
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the appliance: serve the lab and install it; SIGHUP re-reads the lab file, SIGTERM stops",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(cmd.ErrOrStderr(), g.logFormat, g.logLevel)
			if err != nil {
				return err
			}
			return serve(cmd.Context(), g, log, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.NoInstall, "no-install", false, "serve DHCP, DNS and network boot only; do not run the install flow or touch the BMCs")
	cmd.Flags().StringArrayVar(&opts.SkipPreflight, "skip-preflight", nil, "do not run this preflight check (repeatable; see cn2-appliance doctor --help)")
	return cmd
}

func serve(ctx context.Context, g *globalFlags, log *slog.Logger, opts appliance.Options) error {
	lab, err := loadLab(g.config, log)
	if err != nil {
		return err
	}
	st, err := store.Open(g.stateDir)
	if err != nil {
		return err
	}
	defer st.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(runtimeCollectors()...)
	appliance.Version = version
	opts.Gatherer = reg
	app, err := appliance.New(lab, st, reg, log, opts)
	if err != nil {
		return err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	log.Info("serve: starting", "config", g.config, "state_dir", g.stateDir, "version", version)
	return runServing(ctx, app, g.config, log)
}

// statusInterval is how often serve looks whether STATUS= needs an update (a snapshot reads
// the store; a reload updates it at once).
const statusInterval = 5 * time.Second

// runServing runs app until SIGINT or SIGTERM (or ctx ends), re-reads labFile on SIGHUP, and
// keeps systemd informed: ready once the services serve, the watchdog pinged while app is
// healthy.
func runServing(ctx context.Context, app *appliance.Appliance, labFile string, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	sd := &systemd{log: log}
	sd.notify("STATUS=starting: binding the services")
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				sd.reloading()
				reload(labFile, app, log)
				sd.ready(app.Snapshot())
			}
		}
	}()
	go func() {
		if app.WaitReady(ctx) == nil {
			log.Info("serve: ready")
			sd.ready(app.Snapshot())
			go sd.reportStatus(ctx, statusInterval, app.Snapshot)
			sd.watchdog(ctx, app.Healthy)
		}
	}()
	err := app.Run(ctx)
	sd.stopping()
	log.Info("serve: stopped")
	return err
}

// runtimeCollectors are the Go runtime's and the process's metrics (go_*, process_*). The
// process collector reads /proc/self and /proc/stat (for process_start_time_seconds): the
// unit must not hide /proc/stat (no ProcSubset=pid), see TestProcessCollectorUnderTheUnit.
func runtimeCollectors() []prometheus.Collector {
	return []prometheus.Collector{collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})}
}

// loadLab loads the lab file, logging warnings and each problem on its own line.
// logAndLab opens the command's logger on stderr and loads the lab file with it.
func (g *globalFlags) logAndLab(cmd *cobra.Command) (*slog.Logger, *config.Lab, error) {
	log, err := newLogger(cmd.ErrOrStderr(), g.logFormat, g.logLevel)
	if err != nil {
		return nil, nil, err
	}
	lab, err := loadLab(g.config, log)
	return log, lab, err
}

func loadLab(path string, log *slog.Logger) (*config.Lab, error) {
	lab, err := config.Load(path)
	var cerr *config.Error
	if errors.As(err, &cerr) {
		for _, p := range cerr.Problems {
			log.Error("lab file: " + p.String())
		}
		return nil, fmt.Errorf("lab file %s has %d error(s)", path, len(cerr.Problems))
	}
	if err != nil {
		return nil, err
	}
	for _, w := range lab.Warnings {
		log.Warn("lab file: " + strings.TrimPrefix(w.String(), w.File+": "))
	}
	return lab, nil
}

// reload re-reads the lab file through the appliance, which records the outcome (status
// page, metrics, event log); a refused reload keeps the running lab and says why.
func reload(path string, app *appliance.Appliance, log *slog.Logger) {
	log.Info("serve: SIGHUP: reloading", "config", path)
	if err := app.ReloadFile(path); err != nil {
		log.Error("serve: reload failed; still running the previous lab", "err", err)
	}
}
