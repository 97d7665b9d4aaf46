package main

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/testlab"
	"github.com/cn2-appliance/cn2-appliance/pkg/appliance"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
)

// fakeSystemd is a notify socket as systemd offers one (NOTIFY_SOCKET, WATCHDOG_USEC), with
// every message the service sent.
type fakeSystemd struct {
	mu   sync.Mutex
	msgs []string
}

func newFakeSystemd(t *testing.T, watchdog time.Duration) *fakeSystemd {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	t.Setenv("WATCHDOG_USEC", strconv.Itoa(int(watchdog/time.Microsecond)))
	t.Setenv("WATCHDOG_PID", "")
	f := &fakeSystemd{}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			f.mu.Lock()
			f.msgs = append(f.msgs, string(buf[:n]))
			f.mu.Unlock()
		}
	}()
	return f
}

// count is how many messages hold the line msg (a message may carry several, as READY=1 and
// STATUS= do).
func (f *fakeSystemd) count(msg string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, m := range f.msgs {
		for _, line := range strings.Split(m, "\n") {
			if line == msg {
				n++
			}
		}
	}
	return n
}

// status is the last STATUS= the service sent ("" before any).
func (f *fakeSystemd) status() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	last := ""
	for _, m := range f.msgs {
		for _, line := range strings.Split(m, "\n") {
			if v, ok := strings.CutPrefix(line, "STATUS="); ok {
				last = v
			}
		}
	}
	return last
}

// logBuffer collects log output from several goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitFor polls cond; the bound is generous for a loaded machine, not a timing check.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 1200 {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("gave up waiting for %s", what)
}

// TestWatchdogFollowsLiveness runs serve's loop on the loopback lab under a fake systemd: the
// watchdog is pinged while every loop beats; a loop that stops beating stops the pings (and
// each skipped ping says which loop), and they come back when it beats again. SIGHUP with a
// lab file that does not load goes through the appliance: RELOADING=1, then READY=1, and the
// status records the refusal with the file's line.
func TestWatchdogFollowsLiveness(t *testing.T) {
	sd := newFakeSystemd(t, 200*time.Millisecond) // a ping every 100ms
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var logs logBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	app, err := appliance.New(testlab.Loopback(t), st, nil, log, appliance.Options{NoInstall: true, MaxSilence: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}

	// A loop owned by the test, beating until paused.
	beat := app.Liveness().Register("test loop", 0)
	var paused atomic.Bool
	stopLoop := make(chan struct{})
	defer close(stopLoop)
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopLoop:
				return
			case <-tick.C:
				if !paused.Load() {
					beat.Beat()
				}
			}
		}
	}()

	badLab := filepath.Join(t.TempDir(), "lab.yaml")
	if err := os.WriteFile(badLab, []byte("cluster:\n  name: mycluster\n  nmae: typo\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runServing(ctx, app, badLab, log) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("runServing: %v", err)
		}
		waitFor(t, "STOPPING=1", func() bool { return sd.count("STOPPING=1") == 1 })
		if t.Failed() {
			t.Logf("log:\n%s", logs.String())
		}
	}()

	waitFor(t, "READY=1 and watchdog pings", func() bool { return sd.count("READY=1") == 1 && sd.count("WATCHDOG=1") >= 3 })

	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reload to be answered", func() bool { return sd.count("RELOADING=1") == 1 && sd.count("READY=1") == 2 })
	if r := app.Snapshot().Reload; r.Successful || r.File != badLab || len(r.Problems) == 0 {
		t.Errorf("after SIGHUP with a bad file: %+v", r)
	}
	if !strings.Contains(logs.String(), "reload failed") || !strings.Contains(logs.String(), badLab+":3:3: cluster.nmae: unknown key") {
		t.Error("the refused reload is not logged with its reason")
	}

	paused.Store(true)
	waitFor(t, "the check to see the wedged loop", func() bool {
		err := app.Healthy()
		return err != nil && strings.Contains(err.Error(), "test loop: no beat")
	})
	const skipped = "not pinging the watchdog"
	k := logs.count(skipped)
	// Ticks run one after another: once one more has been skipped, every ping sent before it
	// has arrived.
	waitFor(t, "a skipped ping", func() bool { return logs.count(skipped) >= k+1 })
	pings := sd.count("WATCHDOG=1")
	waitFor(t, "three more skipped pings", func() bool { return logs.count(skipped) >= k+4 })
	if got := sd.count("WATCHDOG=1"); got != pings {
		t.Errorf("%d watchdog pings while a loop was wedged", got-pings)
	}
	if !strings.Contains(logs.String(), "test loop: no beat for") {
		t.Error("the skipped pings do not name the wedged loop")
	}

	paused.Store(false)
	waitFor(t, "the pings to resume", func() bool { return sd.count("WATCHDOG=1") > pings })
}
