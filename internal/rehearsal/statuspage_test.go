package rehearsal

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/testlab"
	"github.com/cn2-appliance/cn2-appliance/pkg/status"
)

// TestRehearseHoldAndStatusPage rehearses the example lab with a long --hold and, once the
// install is done and the hold began, reads the status page: every NIC of every node (the data
// ones too) has a lease, the addresses are the lab file's (172.16/10.16, not 127.x) with the
// loopback mapping noted once, and the runtime file names the status address. It then ends the
// hold: the install time does not count the hold, and the runtime file is gone.
func TestRehearseHoldAndStatusPage(t *testing.T) {
	if testing.Short() {
		t.Skip("a rehearsal takes most of a minute")
	}
	var out syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 240*time.Second)
	defer cancel()
	runtimeFile := filepath.Join(t.TempDir(), "running.json")
	urls := make(chan string, 1)
	var progressCalls int
	type seen struct {
		snap       status.Snapshot
		page       string
		running    *Running
		runningErr error
		heldAt     time.Time
	}
	got := make(chan seen, 1)
	go func() {
		var s seen
		defer func() { got <- s; cancel() }()
		var url string
		select {
		case url = <-urls:
		case <-ctx.Done():
			return
		}
		for !strings.Contains(out.String(), "the status page stays up") {
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
		s.running, s.runningErr = ReadRunning(runtimeFile)
		if b, err := httpGet(url + "api/v1/status"); err == nil {
			_ = json.Unmarshal([]byte(b), &s.snap)
		}
		s.page, _ = httpGet(url)
		s.heldAt = time.Now()
	}()
	start := time.Now()
	r, err := Run(ctx, testlab.Path(t), Options{
		TimeScale: 0.01, StateDir: t.TempDir(), Out: &out, Hold: 10 * time.Minute, RuntimeFile: runtimeFile,
		Log:      slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelWarn})),
		OnStatus: func(url string) { urls <- url },
		Progress: func(status.Snapshot) { progressCalls++ },
	})
	s := <-got
	if err != nil || !r.Installed {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if s.heldAt.IsZero() {
		t.Fatalf("never saw the hold begin:\n%s", out.String())
	}
	if limit := s.heldAt.Sub(start); r.Duration >= limit || r.Held <= 0 {
		t.Errorf("installed in %s, held %s; the hold began %s after the start: the hold is counted", r.Duration, r.Held, limit)
	}
	if progressCalls == 0 {
		t.Error("Progress was never called")
	}

	if s.runningErr != nil || s.running.Status != strings.TrimSuffix(strings.TrimPrefix(r.StatusURL, "http://"), "/") || s.running.PID != os.Getpid() {
		t.Errorf("runtime file during the hold: %+v, %v; want status %s", s.running, s.runningErr, r.StatusURL)
	}
	if _, err := os.Stat(runtimeFile); !os.IsNotExist(err) {
		t.Errorf("runtime file left behind: %v", err)
	}

	lab := testlab.Example(t)
	if s.snap.Lab.APIVIP != lab.Cluster.APIVIP.String() {
		t.Errorf("API VIP shown as %s, want the lab's %s", s.snap.Lab.APIVIP, lab.Cluster.APIVIP)
	}
	nics := 0
	for _, n := range s.snap.Nodes {
		ln := lab.Node(n.Name)
		for i, nic := range n.NICs {
			nics++
			if nic.LeaseExpiry.IsZero() {
				t.Errorf("%s %s %s: no lease", n.Name, nic.Network, nic.MAC)
			}
			if want := ln.NICs[i].IP.String(); nic.IP != want {
				t.Errorf("%s %s shown as %s, want the lab's %s", n.Name, nic.Network, nic.IP, want)
			}
		}
	}
	if nics != 10 {
		t.Errorf("%d NICs on the status page, want the example's 10", nics)
	}
	note := "Rehearsal on loopback: addresses are the lab file's; they are served on loopback (ctrl 172.16.0.0/24 as 127.1.0.0/24, data 10.16.0.0/24 as 127.2.0.0/24)."
	if s.snap.Lab.AddressNote != note {
		t.Errorf("address note %q, want %q", s.snap.Lab.AddressNote, note)
	}
	// The listeners (the loops table) are where things really are served: loopback, high ports.
	nodes, _, _ := strings.Cut(s.page[strings.Index(s.page, `<table id="nodes">`)+1:], "</table>")
	if strings.Count(s.page, "served on loopback") != 1 || strings.Contains(nodes, "127.") || strings.Contains(nodes, "(no lease)") ||
		!strings.Contains(nodes, "10.16.0.15") || !strings.Contains(s.page, "API 172.16.0.100") {
		t.Errorf("status page: the note %d time(s) (want 1); nodes table:\n%s", strings.Count(s.page, "served on loopback"), nodes)
	}
}

func httpGet(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}
