package appliance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/liveness"
	"github.com/cn2-appliance/cn2-appliance/pkg/pxe"
	"github.com/cn2-appliance/cn2-appliance/pkg/status"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/exporter-toolkit/web"
)

// serveStatus serves the status page, the JSON API, /metrics and the health checks on the
// lab's status.listen address until ctx ends.
func (a *Appliance) serveStatus(ctx context.Context) error {
	gatherer := a.opts.Gatherer
	if gatherer == nil {
		gatherer = prometheus.NewRegistry()
	}
	addr := a.Lab().Status.Listen.String()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("status: listen on %s: %w", addr, err)
	}
	a.statusAddr.Store(ln.Addr().String())
	beat := a.live.Register("status http "+ln.Addr().String(), 0)
	defer beat.Done()
	srv := &http.Server{
		Handler:           status.NewHandler(status.Options{Source: a.Snapshot, Gatherer: gatherer, Ready: a.Ready, Healthy: a.Healthy, Log: a.log, Timelines: a.timeline, Report: a.WriteReport}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      time.Minute, // pages, JSON and /metrics are small
		IdleTimeout:       statusIdleTimeout,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelDebug),
	}
	maxConns := statusMaxConns(pxe.FDLimit())
	limited := pxe.NewConnLimiter(func() pxe.ConnLimits {
		return pxe.ConnLimits{Max: maxConns, MaxPerClient: statusMaxConnsPerClient}
	}, nil, nil).Listener(liveness.Listener(ln, beat))
	webConfig := a.Lab().Status.WebConfigFile
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	a.log.Info("status: serving", "addr", ln.Addr().String(), "web_config", webConfig, "max_connections", maxConns)
	// The exporter toolkit serves TLS and basic auth as the web config says (re-read per
	// connection and request, as for any exporter); without one, plain HTTP.
	flags := &web.FlagConfig{WebListenAddresses: &[]string{addr}, WebSystemdSocket: new(bool), WebConfigFile: &webConfig}
	if err := web.Serve(limited, srv, flags, a.log.With("service", "status")); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("status: %w", err)
	}
	return nil
}

// Status server limits: the page, the JSON API and /metrics need few connections; these caps
// keep a flood from taking descriptors the lab services need.
const (
	statusIdleTimeout       = 2 * time.Minute
	statusMaxConnsPerClient = 16
)

// statusMaxConns is the status server's total cap: an eighth of the HTTP descriptor budget,
// at most 256.
func statusMaxConns(fdLimit uint64) int { return min(256, pxe.HTTPBudget(fdLimit)/8) }

// StatusAddr is the address the status server listens on, once it does ("" before).
func (a *Appliance) StatusAddr() string {
	s, _ := a.statusAddr.Load().(string)
	return s
}
