// Package appliance wires the services together from a lab. It owns the translation from the
// lab model (pkg/config) into each service's own configuration, the services' lifecycles, and
// reload. The services never import each other: they meet here through small interfaces.
package appliance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/dns"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
	"github.com/prometheus/client_golang/prometheus"
)

// Appliance runs the lab's services and applies new lab files to them.
type Appliance struct {
	log   *slog.Logger
	store *store.Store
	lab   atomic.Pointer[config.Lab]
	dns   *dns.Server

	reloadMu sync.Mutex // one reload at a time
}

// New builds every service from lab; nothing is bound until Run.
func New(lab *config.Lab, st *store.Store, reg prometheus.Registerer, log *slog.Logger) (*Appliance, error) {
	a := &Appliance{log: log, store: st}
	var err error
	if a.dns, err = dns.New(DNSConfig(lab), reg, log.With("service", "dns")); err != nil {
		return nil, fmt.Errorf("appliance: set up dns: %w", err)
	}
	a.lab.Store(lab)
	return a, nil
}

// Lab is the lab the appliance currently runs.
func (a *Appliance) Lab() *config.Lab { return a.lab.Load() }

// Run serves until ctx is done. If a service fails, the others are stopped and its error is
// returned.
func (a *Appliance) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	services := map[string]func(context.Context) error{
		"dns": a.dns.Run,
	}
	var wg sync.WaitGroup
	for name, run := range services {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(ctx); err != nil {
				cancel(fmt.Errorf("%s: %w", name, err))
			}
		}()
	}
	lab := a.Lab()
	a.event("info", fmt.Sprintf("serving lab %s: %d nodes on %d networks", lab.Zone(), len(lab.Nodes), len(lab.Networks)))
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// Reload applies a new, already validated lab to every service. If a service refuses it, the
// services keep what they run and the error says why.
func (a *Appliance) Reload(lab *config.Lab) error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	if err := a.dns.Reload(DNSConfig(lab)); err != nil {
		return fmt.Errorf("appliance: reload: %w", err)
	}
	a.lab.Store(lab)
	a.event("info", fmt.Sprintf("reloaded lab %s: %d nodes on %d networks", lab.Zone(), len(lab.Nodes), len(lab.Networks)))
	return nil
}

// event logs a message and keeps it in the store's event log, which the status page shows.
func (a *Appliance) event(level, msg string) {
	a.log.Info("appliance: " + msg)
	if _, err := a.store.AppendEvent(store.Event{Level: level, Source: "appliance", Message: msg}); err != nil {
		a.log.Error("appliance: record event", "err", err)
	}
}
