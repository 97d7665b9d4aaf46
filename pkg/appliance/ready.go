package appliance

import (
	"context"
	"errors"
)

// WaitReady returns once every service has bound its listeners, or with ctx's error.
func (a *Appliance) WaitReady(ctx context.Context) error {
	for _, ready := range []<-chan struct{}{a.dns.Ready(), a.dhcp.Ready(), a.ntp.Ready()} {
		select {
		case <-ready:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Ready reports whether every service is serving, for /readyz.
func (a *Appliance) Ready() error {
	for name, ready := range map[string]<-chan struct{}{"dns": a.dns.Ready(), "dhcp": a.dhcp.Ready(), "ntp": a.ntp.Ready()} {
		select {
		case <-ready:
		default:
			return errors.New(name + " is not serving yet")
		}
	}
	return nil
}
