package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/testlab"
	"github.com/cn2-appliance/cn2-appliance/pkg/appliance"
	"github.com/cn2-appliance/cn2-appliance/pkg/status"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
)

// TestReloadCommandRefused runs serve's loop on the loopback lab under a fake systemd and
// `cn2-appliance reload --pid <this process>` (the unit's ExecReload=) against it, with a lab
// file that does not load, then one that loads but that the services cannot apply: each time
// the command exits 1 with the first problem on its first line of stderr, systemd sees
// RELOADING=1 then READY=1, and STATUS= says the reload was refused and why.
func TestReloadCommandRefused(t *testing.T) {
	sd := newFakeSystemd(t, time.Hour)
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var logs logBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	app, err := appliance.New(testlab.Loopback(t), st, nil, log, appliance.Options{NoInstall: true})
	if err != nil {
		t.Fatal(err)
	}
	labFile := filepath.Join(t.TempDir(), "lab.yaml")
	if err := os.WriteFile(labFile, []byte("cluster:\n  name: mycluster\n  nmae: typo\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runServing(ctx, app, labFile, log) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("runServing: %v", err)
		}
		if t.Failed() {
			t.Logf("log:\n%s", logs.String())
		}
	}()
	waitFor(t, "READY=1", func() bool { return sd.count("READY=1") == 1 })
	if got := sd.status(); got != "serving" {
		t.Errorf("STATUS=%q once ready, want serving", got)
	}

	pid := strconv.Itoa(os.Getpid())
	_, errOut, code := run(t, "reload", "--pid", pid, "--addr", app.StatusAddr())
	first, _, _ := strings.Cut(errOut, "\n")
	const wantFirst = "reload refused, still serving the previous lab: "
	problems := app.Snapshot().Reload.Problems
	if code != 1 || len(problems) < 2 || first != wantFirst+problems[0].String() || !strings.HasPrefix(problems[0].String(), labFile+":1:1: networks: missing") ||
		!strings.Contains(errOut, "\n"+labFile+":3:3: cluster.nmae: unknown key") {
		t.Errorf("reload of a file that does not load: code %d, stderr:\n%s", code, errOut)
	}
	waitFor(t, "RELOADING=1 then READY=1", func() bool { return sd.count("RELOADING=1") == 1 && sd.count("READY=1") == 2 })
	if got, want := sd.status(), "refused reload, still serving the previous lab: "+problems[0].String()+" (+"+strconv.Itoa(len(problems)-1)+" more); serving"; got != want {
		t.Errorf("STATUS=%q after the refused reload, want %q", got, want)
	}

	// The example lab loads, but its DHCP interfaces (ens4, ens5) are not on this machine.
	example, err := os.ReadFile(testlab.Path(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(testlab.Path(t))
	if err := os.WriteFile(labFile, []byte(strings.ReplaceAll(string(example), "example-", dir+"/example-")), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = run(t, "reload", "--pid", pid, "--addr", app.StatusAddr())
	first, _, _ = strings.Cut(errOut, "\n")
	if code != 1 || !strings.HasPrefix(first, wantFirst+labFile+": ") {
		t.Errorf("reload of a lab the services refuse: code %d, stderr:\n%s", code, errOut)
	}
	t.Logf("refused by the services: %s", first)
	waitFor(t, "the second reload to be answered", func() bool { return sd.count("READY=1") == 3 })
	if got := sd.status(); !strings.HasPrefix(got, "refused reload, still serving the previous lab: "+labFile+": ") {
		t.Errorf("STATUS=%q after the second refused reload", got)
	}
	if r := app.Snapshot().Reload; r.Successful {
		t.Errorf("the status API says the reload succeeded: %+v", r)
	}
}

// TestReloadCommandApplied: against a status API whose reload record moves to a successful
// one when SIGHUP arrives, reload exits 0 and says which file it reloaded; with nothing
// listening it fails before signalling anything.
func TestReloadCommandApplied(t *testing.T) {
	var mu sync.Mutex
	rec := status.Reload{File: "/etc/cn2-appliance/lab.yaml", Time: time.Now().Add(-time.Hour), Successful: true}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		_ = json.NewEncoder(w).Encode(status.Snapshot{Reload: rec})
	}))
	defer srv.Close()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		<-hup
		mu.Lock()
		defer mu.Unlock()
		rec.Time = time.Now()
	}()
	addr := strings.TrimPrefix(srv.URL, "http://")
	out, errOut, code := run(t, "reload", "--pid", strconv.Itoa(os.Getpid()), "--addr", addr)
	if code != 0 || out != "reloaded /etc/cn2-appliance/lab.yaml\n" {
		t.Errorf("reload: code %d, stdout %q, stderr %q", code, out, errOut)
	}
	if _, errOut, code := run(t, "reload", "--pid", strconv.Itoa(os.Getpid()), "--addr", "127.0.0.1:1"); code == 0 || !strings.Contains(errOut, "is the appliance running?") {
		t.Errorf("reload with nothing listening: code %d %s", code, errOut)
	}
	if _, errOut, code := run(t, "reload", "--addr", addr); code == 0 || !strings.Contains(errOut, "--pid") {
		t.Errorf("reload without --pid: code %d %s", code, errOut)
	}
}

// TestStatusLine: what `systemctl status` shows, from a snapshot.
func TestStatusLine(t *testing.T) {
	steps := []status.Step{{Name: "ensure-cluster", State: "done"}, {Name: "watch-install", State: "running"}, {Name: "kubeconfig", State: "pending"}}
	refused := status.Reload{Problems: []status.ReloadProblem{{File: "/etc/lab.yaml", Line: 3, Column: 3, Key: "cluster.nmae", Message: "unknown key"}, {File: "/etc/lab.yaml", Message: "second\nline"}}}
	for _, c := range []struct {
		snap status.Snapshot
		want string
	}{
		{status.Snapshot{Reload: status.Reload{Successful: true}}, "serving"},
		{status.Snapshot{Reload: status.Reload{Successful: true}, Steps: steps}, "serving; installing step 2/3: watch-install"},
		{status.Snapshot{Reload: status.Reload{Successful: true}, Steps: []status.Step{{Name: "ensure-cluster", State: "failed", LastError: "installer said 401\nbody"}}}, "serving; install failed at step 1/1: ensure-cluster: installer said 401"},
		{status.Snapshot{Reload: status.Reload{Successful: true}, Steps: []status.Step{{Name: "a", State: "done"}}}, "serving; installed"},
		{status.Snapshot{Reload: refused, Steps: steps}, "refused reload, still serving the previous lab: /etc/lab.yaml:3:3: cluster.nmae: unknown key (+1 more); serving; installing step 2/3: watch-install"},
	} {
		if got := statusLine(c.snap); got != c.want {
			t.Errorf("statusLine = %q, want %q", got, c.want)
		}
	}
}

// TestReportRefusalToTheJournal: on the journal's stream the refusal's lines carry <3>, so
// journald files them as errors; elsewhere they are plain.
func TestReportRefusalToTheJournal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	r := status.Reload{Problems: []status.ReloadProblem{{File: "lab.yaml", Line: 3, Column: 3, Key: "cluster.nmae", Message: "unknown key"}, {File: "lab.yaml", Message: "other"}}}
	t.Setenv("JOURNAL_STREAM", strconv.FormatUint(uint64(st.Dev), 10)+":"+strconv.FormatUint(st.Ino, 10))
	reportRefusal(f, r)
	t.Setenv("JOURNAL_STREAM", "")
	reportRefusal(f, r)
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	want := "<3>reload refused, still serving the previous lab: lab.yaml:3:3: cluster.nmae: unknown key\n<3>lab.yaml: other\n" +
		"reload refused, still serving the previous lab: lab.yaml:3:3: cluster.nmae: unknown key\nlab.yaml: other\n"
	if string(b) != want {
		t.Errorf("got\n%s\nwant\n%s", b, want)
	}
}

// TestReportStatusFollowsTheInstall: STATUS= follows the snapshot as the install moves, and is
// sent once per change, not at every look.
func TestReportStatusFollowsTheInstall(t *testing.T) {
	fake := newFakeSystemd(t, time.Hour)
	sd := &systemd{log: slog.New(slog.NewTextHandler(&logBuffer{}, nil))}
	var mu sync.Mutex
	snap := status.Snapshot{Reload: status.Reload{Successful: true}, Steps: []status.Step{{Name: "ensure-cluster", State: "running"}, {Name: "watch-install", State: "pending"}}}
	looks := 0
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go sd.reportStatus(ctx, 10*time.Millisecond, func() status.Snapshot {
		mu.Lock()
		defer mu.Unlock()
		looks++
		s := snap
		s.Steps = append([]status.Step(nil), snap.Steps...)
		return s
	})
	waitFor(t, "installing step 1/2", func() bool { return fake.status() == "serving; installing step 1/2: ensure-cluster" })
	mu.Lock()
	snap.Steps[0].State, snap.Steps[1].State = "done", "running"
	seen := looks
	mu.Unlock()
	waitFor(t, "installing step 2/2", func() bool { return fake.status() == "serving; installing step 2/2: watch-install" })
	waitFor(t, "more looks", func() bool { mu.Lock(); defer mu.Unlock(); return looks > seen+5 })
	fake.mu.Lock()
	n := len(fake.msgs)
	fake.mu.Unlock()
	if n != 2 {
		t.Errorf("%d notify messages for two status changes", n)
	}
}
