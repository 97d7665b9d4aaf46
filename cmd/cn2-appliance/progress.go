package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/status"
	"golang.org/x/term"
)

// liveView draws the rehearsal's progress on a terminal, in place: a block of one line per
// install step and one per node, redrawn on every Update. Messages written to it (the
// rehearsal's own lines) are printed above the block, which is then drawn again below them.
type liveView struct {
	mu    sync.Mutex
	w     io.Writer
	width func() int // the terminal's width: longer lines are cut, as a wrapped one would break the redraw
	block []string
	drawn int // lines of the block now on the screen
	start time.Time
}

func newLiveView(w io.Writer, width func() int) *liveView {
	return &liveView{w: w, width: width, start: time.Now()}
}

// terminalWidth is f's width when f is a terminal (0, false otherwise).
func terminalWidth(w io.Writer) (func() int, bool) {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, false
	}
	return func() int {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
			return cols
		}
		return 80
	}, true
}

// Write prints p above the block.
func (v *liveView) Write(p []byte) (int, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	var b bytes.Buffer
	v.erase(&b)
	b.Write(p)
	if len(p) > 0 && p[len(p)-1] != '\n' {
		b.WriteByte('\n')
	}
	v.draw(&b)
	_, err := v.w.Write(b.Bytes())
	return len(p), err
}

// Update redraws the block from s.
func (v *liveView) Update(s status.Snapshot) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.block = progressLines(s, time.Since(v.start))
	var b bytes.Buffer
	v.erase(&b)
	v.draw(&b)
	_, _ = v.w.Write(b.Bytes())
}

// erase moves the cursor to the block's first line and clears from there to the end.
func (v *liveView) erase(b *bytes.Buffer) {
	if v.drawn > 0 {
		fmt.Fprintf(b, "\x1b[%dA\r\x1b[J", v.drawn)
	}
	v.drawn = 0
}

func (v *liveView) draw(b *bytes.Buffer) {
	width := v.width()
	for _, l := range v.block {
		if width > 1 && len([]rune(l)) >= width {
			l = string([]rune(l)[:width-1])
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	v.drawn = len(v.block)
}

// progressLines is the block: the cluster, then one line per step and one per node.
func progressLines(s status.Snapshot, elapsed time.Duration) []string {
	cluster := s.Cluster.Status
	if cluster == "" {
		cluster = "not registered"
	}
	out := []string{fmt.Sprintf("── %s: %s, %d%% installed, %s ──", s.Lab.Zone, cluster, s.Cluster.Progress, elapsed.Round(time.Second))}
	for _, st := range s.Steps {
		took := ""
		if st.Duration > 0 {
			took = st.Duration.Round(100 * time.Millisecond).String()
		}
		line := fmt.Sprintf("  %s %-24s %-8s %8s", stepMark(st.State), st.Name, st.State, took)
		if st.Attempts > 1 {
			line += fmt.Sprintf("  %d attempts", st.Attempts)
		}
		if st.LastError != "" && st.State != "done" {
			line += "  " + oneLine(st.LastError)
		}
		out = append(out, line)
	}
	for _, n := range s.Nodes {
		host := n.HostStatus
		if host == "" {
			host = "not discovered"
		}
		if n.HostStage != "" {
			host += ": " + n.HostStage
			if n.HostProgress > 0 {
				host += fmt.Sprintf(" (%d%%)", n.HostProgress)
			}
		}
		line := fmt.Sprintf("  %-12s %-4s %-10s %s", n.Name, dash(n.Power), dash(n.PXEProfile), host)
		if n.NeedsAttention != "" {
			line += "  NEEDS ATTENTION: " + oneLine(n.NeedsAttention)
		}
		out = append(out, line)
	}
	return out
}

func stepMark(state string) string {
	switch state {
	case "done":
		return "✓"
	case "running":
		return "▸"
	case "failed":
		return "✗"
	default:
		return "·"
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
