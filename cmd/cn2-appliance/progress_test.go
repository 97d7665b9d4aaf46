package main

import (
	"bytes"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/cn2-appliance/cn2-appliance/pkg/status"
)

func progressSnapshot() status.Snapshot {
	return status.Snapshot{
		Lab:     status.Lab{Zone: "mycluster.contrail.lan"},
		Cluster: status.Cluster{Status: "installing", Progress: 42},
		Steps: []status.Step{
			{Name: "ensure-cluster", State: "done", Duration: 230 * time.Millisecond, Attempts: 1},
			{Name: "wait-ready", State: "running", Duration: 3 * time.Second, Attempts: 3, LastError: "host master-1:\nnot ready"},
			{Name: "install", State: "pending"},
		},
		Nodes: []status.Node{
			{Name: "master-0", Power: "on", PXEProfile: "disk", HostStatus: "installing-in-progress", HostStage: "Writing image to disk", HostProgress: 45},
			{Name: "worker-1", NeedsAttention: "firmware hang, 3 boots"},
		},
	}
}

// TestProgressLines: the live view's block is one line for the cluster, one per step and one
// per node, each a single line.
func TestProgressLines(t *testing.T) {
	got := progressLines(progressSnapshot(), 75*time.Second)
	want := []string{
		"── mycluster.contrail.lan: installing, 42% installed, 1m15s ──",
		"  ✓ ensure-cluster           done        200ms",
		"  ▸ wait-ready               running        3s  3 attempts  host master-1: not ready",
		"  · install                  pending          ",
		"  master-0     on   disk       installing-in-progress: Writing image to disk (45%)",
		"  worker-1     -    -          not discovered  NEEDS ATTENTION: firmware hang, 3 boots",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestLiveViewRedraws: an update replaces the block in place (cursor up over it, clear to the
// end of the screen, draw again), a message goes above the block, and lines are cut to the
// terminal's width so none wraps.
func TestLiveViewRedraws(t *testing.T) {
	var b bytes.Buffer
	v := newLiveView(&b, func() int { return 40 })
	v.Update(progressSnapshot())
	first := b.String()
	if strings.Contains(first, "\x1b[") || strings.Count(first, "\n") != 6 {
		t.Fatalf("first draw: %q", first)
	}
	for _, l := range strings.Split(strings.TrimSuffix(first, "\n"), "\n") {
		if n := len([]rune(l)); n >= 40 {
			t.Errorf("line of %d runes on a 40-column terminal: %q", n, l)
		}
	}
	b.Reset()
	v.Write([]byte("rehearsal: ensure-cluster done\n"))
	if got := b.String(); !strings.HasPrefix(got, "\x1b[6A\r\x1b[Jrehearsal: ensure-cluster done\n── mycluster") || strings.Count(got, "\n") != 7 {
		t.Errorf("message: %q", got)
	}
	b.Reset()
	s := progressSnapshot()
	s.Nodes = s.Nodes[:1]
	v.Update(s)
	if got := b.String(); !strings.HasPrefix(got, "\x1b[6A\r\x1b[J── ") || strings.Count(got, "\n") != 5 {
		t.Errorf("update: %q", got)
	}
}

var logFileLine = regexp.MustCompile(`(?m)^rehearsal: logs in (\S+) \(--log-level LEVEL sends them to stderr instead\)`)

// TestRehearsePlainOutput: when stdout is no terminal, the rehearsal prints plain lines (no
// escape sequences), its logs go to the file it names, not to stdout or stderr.
func TestRehearsePlainOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("the rehearsal runs for about 15s")
	}
	t.Setenv("CN2_APPLIANCE_LOG_LEVEL", "")
	out, errOut, code := run(t, "rehearse", "-c", exampleLab, "--time-scale", "0.01", "--timeout", "3m")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	m := logFileLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no log file named:\n%s", out)
	}
	defer os.Remove(m[1])
	logs, err := os.ReadFile(m[1])
	if err != nil || !strings.Contains(string(logs), "level=INFO") {
		t.Errorf("log file %s: %v, %d bytes", m[1], err, len(logs))
	}
	if strings.Contains(out, "\x1b[") || strings.Contains(out, "level=") || strings.Contains(errOut, "level=") {
		t.Errorf("escape sequences or log lines on the console:\nstdout %q\nstderr %q", out, errOut)
	}
	if !strings.Contains(out, "rehearsal: installed in ") {
		t.Errorf("no summary:\n%s", out)
	}
}

// TestRehearseLiveView runs the rehearsal with stdout on a pseudo-terminal: it draws the live
// view (redrawn in place, with a line per step and per node), names the log file, and keeps
// log lines off the terminal.
func TestRehearseLiveView(t *testing.T) {
	if testing.Short() {
		t.Skip("the rehearsal runs for about 15s")
	}
	t.Setenv("CN2_APPLIANCE_LOG_LEVEL", "")
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	defer ptmx.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	screen := make(chan string)
	go func() {
		b, _ := io.ReadAll(ptmx) // ends when the terminal's last writer closes
		screen <- string(b)
	}()
	cmd := newRootCmd()
	var errOut bytes.Buffer
	cmd.SetOut(tty)
	cmd.SetErr(&errOut)
	cmd.SetArgs([]string{"rehearse", "-c", exampleLab, "--time-scale", "0.01", "--timeout", "3m"})
	err = cmd.Execute()
	tty.Close()
	out := <-screen
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, out, errOut.String())
	}
	if m := logFileLine.FindStringSubmatch(strings.ReplaceAll(out, "\r\n", "\n")); m == nil {
		t.Errorf("no log file named")
	} else {
		os.Remove(m[1])
	}
	for _, want := range []string{"\x1b[J── mycluster.contrail.lan: ", "  ✓ ensure-cluster ", "  master-0 ", "  worker-1 ", "rehearsal: installed in "} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal lacks %q", want)
		}
	}
	if redraws := strings.Count(out, "\r\x1b[J"); redraws < 10 {
		t.Errorf("%d redraws, want the view redrawn as the install goes", redraws)
	}
	if strings.Contains(out, "level=") || strings.Contains(errOut.String(), "level=") {
		t.Error("log lines on the terminal")
	}
	if t.Failed() {
		t.Logf("terminal (last 3000 bytes): %q", out[max(0, len(out)-3000):])
	}
}

// TestRehearsalLogDestination: without --log-level the logs go to a new file whose path is
// printed; with it (or its environment variable) to stderr.
func TestRehearsalLogDestination(t *testing.T) {
	t.Setenv("CN2_APPLIANCE_LOG_LEVEL", "")
	root := newRootCmd()
	var stderr, out bytes.Buffer
	root.SetErr(&stderr)
	rehearse, _, err := root.Find([]string{"rehearse"})
	if err != nil {
		t.Fatal(err)
	}
	w, closeLog, err := rehearsalLog(rehearse, &out)
	if err != nil {
		t.Fatal(err)
	}
	f, ok := w.(*os.File)
	if !ok || !strings.Contains(out.String(), "rehearsal: logs in "+f.Name()+" ") {
		t.Errorf("no --log-level: logs to %T, printed %q", w, out.String())
	}
	closeLog()
	if ok {
		os.Remove(f.Name())
	}
	if err := rehearse.ParseFlags([]string{"--log-level", "warn"}); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if w, _, _ := rehearsalLog(rehearse, &out); w != io.Writer(&stderr) || out.Len() != 0 {
		t.Errorf("--log-level warn: logs to %T (want stderr), printed %q", w, out.String())
	}
	t.Setenv("CN2_APPLIANCE_LOG_LEVEL", "debug")
	fresh := newRootCmd()
	fresh.SetErr(&stderr)
	rehearse, _, _ = fresh.Find([]string{"rehearse"})
	if w, _, _ := rehearsalLog(rehearse, &out); w != io.Writer(&stderr) {
		t.Errorf("CN2_APPLIANCE_LOG_LEVEL=debug: logs to %T, want stderr", w)
	}
}
