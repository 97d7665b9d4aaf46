package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// systemd tells systemd (Type=notify) how the service is doing. Outside systemd
// (no NOTIFY_SOCKET) every call is a no-op.
type systemd struct{ log *slog.Logger }

func (s systemd) notify(state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		s.log.Warn("serve: sd_notify failed", "state", state, "err", err)
	}
}

func (s systemd) ready()     { s.notify(daemon.SdNotifyReady) }
func (s systemd) reloading() { s.notify(daemon.SdNotifyReloading) }
func (s systemd) stopping()  { s.notify(daemon.SdNotifyStopping) }

// watchdog pings systemd's watchdog at half its interval while healthy says every
// long-running loop of the appliance is alive, until ctx ends. While it is not, the pings stop
// (each skipped one is logged with the reason), and systemd restarts the service once its
// WatchdogSec has passed.
func (s systemd) watchdog(ctx context.Context, healthy func() error) {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil || interval == 0 {
		return
	}
	t := time.NewTicker(interval / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if ctx.Err() != nil {
				return
			}
			if err := healthy(); err != nil {
				s.log.Warn("serve: not pinging the watchdog", "err", err)
				continue
			}
			s.notify(daemon.SdNotifyWatchdog)
		}
	}
}
