package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/status"
	"github.com/coreos/go-systemd/v22/daemon"
)

// systemd tells systemd (Type=notify) how the service is doing: READY, RELOADING, STOPPING,
// the watchdog pings, and STATUS= (what `systemctl status` prints on its Status: line). Outside
// systemd (no NOTIFY_SOCKET) every call is a no-op.
type systemd struct {
	log *slog.Logger

	mu         sync.Mutex
	lastStatus string
}

func (s *systemd) notify(state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		s.log.Warn("serve: sd_notify failed", "state", strings.ReplaceAll(state, "\n", " "), "err", err)
	}
}

// ready says READY=1 with the current status line.
func (s *systemd) ready(snap status.Snapshot) {
	line := statusLine(snap)
	s.mu.Lock()
	s.lastStatus = line
	s.mu.Unlock()
	s.notify(daemon.SdNotifyReady + "\nSTATUS=" + line)
}

func (s *systemd) reloading() { s.notify(daemon.SdNotifyReloading + "\nSTATUS=reloading the lab file") }
func (s *systemd) stopping()  { s.notify(daemon.SdNotifyStopping + "\nSTATUS=stopping") }

// status sends STATUS= when the status line has changed since the last one sent.
func (s *systemd) status(snap status.Snapshot) {
	line := statusLine(snap)
	s.mu.Lock()
	changed := line != s.lastStatus
	s.lastStatus = line
	s.mu.Unlock()
	if changed {
		s.notify("STATUS=" + line)
	}
}

// statusLine is the appliance's state in one line: a refused reload first (the operator must
// act), then what the install does: "serving", "serving; installing step 3/9: watch-install",
// "serving; install failed at step 2/9: ensure-cluster: <error>", "serving; installed".
func statusLine(s status.Snapshot) string {
	var parts []string
	if r := s.Reload; !r.Successful {
		why := "(no reason recorded)"
		if len(r.Problems) > 0 {
			why = r.Problems[0].String()
			if n := len(r.Problems) - 1; n > 0 {
				why += fmt.Sprintf(" (+%d more)", n)
			}
		}
		parts = append(parts, "refused reload, still serving the previous lab: "+why)
	}
	parts = append(parts, "serving")
	if install := installLine(s.Steps); install != "" {
		parts = append(parts, install)
	}
	return firstLine(strings.Join(parts, "; "))
}

func installLine(steps []status.Step) string {
	for i, st := range steps {
		where := fmt.Sprintf("step %d/%d: %s", i+1, len(steps), st.Name)
		switch st.State {
		case "done":
			continue
		case "failed":
			return "install failed at " + where + ": " + st.LastError
		default:
			return "installing " + where
		}
	}
	if len(steps) > 0 {
		return "installed"
	}
	return ""
}

// firstLine keeps STATUS= to one line (a newline would start another notify variable).
func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// reportStatus keeps STATUS= current until ctx ends, looking every interval.
func (s *systemd) reportStatus(ctx context.Context, interval time.Duration, snapshot func() status.Snapshot) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.status(snapshot())
		}
	}
}

// watchdog pings systemd's watchdog at half its interval while healthy says every
// long-running loop of the appliance is alive, until ctx ends. While it is not, the pings stop
// (each skipped one is logged with the reason), and systemd restarts the service once its
// WatchdogSec has passed.
func (s *systemd) watchdog(ctx context.Context, healthy func() error) {
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
