package appliance

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// WaitReady returns once DNS, DHCP and network boot have bound their listeners, or with ctx's
// error.
func (a *Appliance) WaitReady(ctx context.Context) error {
	for _, ready := range []<-chan struct{}{a.dns.Ready(), a.dhcp.Ready(), a.pxe.Ready(), a.ntp.Ready()} {
		select {
		case <-ready:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Ready is /readyz: nil once DNS, DHCP and network boot have bound their listeners, and while
// the appliance is Healthy.
func (a *Appliance) Ready() error {
	for _, s := range []struct {
		name  string
		ready <-chan struct{}
	}{{"dns", a.dns.Ready()}, {"dhcp", a.dhcp.Ready()}, {"pxe", a.pxe.Ready()}, {"ntp", a.ntp.Ready()}} {
		select {
		case <-s.ready:
		default:
			return errors.New(s.name + " is not serving yet")
		}
	}
	return a.Healthy()
}

// Healthy is /healthz and what the systemd watchdog is pinged on: nil while every long-running
// loop beats in time (or waits on purpose) and no service has stopped; otherwise an error
// naming each wedged loop and stopped service.
func (a *Appliance) Healthy() error {
	var errs []error
	a.svcMu.Lock()
	names := make([]string, 0, len(a.stopped))
	for name := range a.stopped {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		errs = append(errs, fmt.Errorf("%s has stopped: %w", name, a.stopped[name]))
	}
	a.svcMu.Unlock()
	if err := a.live.Check(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
