package appliance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/liveness"
	"github.com/cn2-appliance/cn2-appliance/pkg/status"
	"github.com/prometheus/client_golang/prometheus"
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
		Handler:           status.NewHandler(status.Options{Source: a.Snapshot, Gatherer: gatherer, Ready: a.Ready, Healthy: a.Healthy, Log: a.log}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	a.log.Info("status: serving", "addr", ln.Addr().String())
	if err := srv.Serve(liveness.Listener(ln, beat)); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("status: %w", err)
	}
	return nil
}

// StatusAddr is the address the status server listens on, once it does ("" before).
func (a *Appliance) StatusAddr() string {
	s, _ := a.statusAddr.Load().(string)
	return s
}
