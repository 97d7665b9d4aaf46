package status

import (
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/timeline"
)

// Timelines are the nodes' milestones (*timeline.Log has them).
type Timelines interface {
	Node(name string) []timeline.Entry
	All() map[string][]timeline.Entry
}

// NodeTimeline is what /api/v1/nodes/{name}/timeline serves: the node's milestones, oldest
// first, and the phases and marks the status page draws from them.
type NodeTimeline struct {
	Node       string           `json:"node"`
	Milestones []timeline.Entry `json:"milestones"`
	Phases     []timeline.Bar   `json:"phases"`
	Marks      []timeline.Mark  `json:"marks"`
	// Installed is when the node reached installed; zero until it has.
	Installed time.Time `json:"installed,omitzero"`
}

// BuildNodeTimeline is a node's timeline as of now.
func BuildNodeTimeline(node string, entries []timeline.Entry, now time.Time) NodeTimeline {
	bars, marks := timeline.Phases(entries, now)
	if entries == nil {
		entries = []timeline.Entry{}
	}
	return NodeTimeline{Node: node, Milestones: entries, Phases: bars, Marks: marks, Installed: timeline.Installed(bars)}
}

// serveNodeTimeline answers /api/v1/nodes/{name}/timeline; a name that is neither a node of
// the lab nor has a timeline is 404.
func serveNodeTimeline(src Source, tl Timelines) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		var entries []timeline.Entry
		if tl != nil {
			entries = tl.Node(name)
		}
		snap := src()
		if entries == nil && !slices.ContainsFunc(snap.Nodes, func(n Node) bool { return n.Name == name }) {
			http.Error(w, fmt.Sprintf("no node %q in the lab", name), http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(BuildNodeTimeline(name, entries, snap.Time))
	}
}

// Chart geometry, in SVG user units (the chart scales to the page's width).
const (
	chartWidth  = 1200
	labelWidth  = 170
	chartRight  = 12
	axisHeight  = 22
	legendSpace = 26
)

// rowHeight keeps 5 nodes and 200 nodes readable: tall rows for a small lab, 10 units (8-unit
// labels) for a large one, so 200 nodes make a chart of about 2000 units that scrolls.
func rowHeight(nodes int) int {
	if nodes <= 30 {
		return 20
	}
	return 10
}

// InstallTimes are the run's elapsed time and, once installed, its total install time, from
// the flow's steps.
type InstallTimes struct {
	Start     time.Time
	Elapsed   time.Duration
	Installed time.Duration // 0 until the install is verified
}

// installTimes reads the run's times from the steps: it starts when the first step started
// and is installed when watch-install finished.
func installTimes(s Snapshot) InstallTimes {
	var t InstallTimes
	for _, st := range s.Steps {
		if !st.Started.IsZero() && (t.Start.IsZero() || st.Started.Before(t.Start)) {
			t.Start = st.Started
		}
	}
	if t.Start.IsZero() {
		return t
	}
	t.Elapsed = s.Time.Sub(t.Start)
	for _, st := range s.Steps {
		if st.Name == "watch-install" && st.State == "done" && !st.Finished.IsZero() {
			t.Installed = st.Finished.Sub(t.Start)
		}
	}
	return t
}

// renderTimeline draws one row per node of s, time left to right from the first milestone (or
// the first step) to now: phases as coloured bars, remedies and stalls as marks, now as a
// line. It is plain SVG: no script, classes for the colours (style.css).
func renderTimeline(s Snapshot, all map[string][]timeline.Entry) template.HTML {
	now := s.Time
	if now.IsZero() {
		now = time.Now()
	}
	type row struct {
		name  string
		bars  []timeline.Bar
		marks []timeline.Mark
	}
	var rows []row
	start := installTimes(s).Start
	for _, n := range s.Nodes {
		bars, marks := timeline.Phases(all[n.Name], now)
		rows = append(rows, row{n.Name, bars, marks})
		if len(bars) > 0 && (start.IsZero() || bars[0].Start.Before(start)) {
			start = bars[0].Start
		}
		for _, m := range marks {
			if start.IsZero() || m.Time.Before(start) {
				start = m.Time
			}
		}
	}
	if len(rows) == 0 {
		return ""
	}
	if start.IsZero() || !start.Before(now) {
		start = now.Add(-time.Minute)
	}
	span := now.Sub(start)
	plotW := float64(chartWidth - labelWidth - chartRight)
	x := func(t time.Time) float64 {
		if t.Before(start) {
			t = start
		}
		if t.After(now) {
			t = now
		}
		return float64(labelWidth) + plotW*float64(t.Sub(start))/float64(span)
	}
	rh := rowHeight(len(rows))
	font := min(12, rh-2)
	height := axisHeight + rh*len(rows) + legendSpace
	var b strings.Builder
	fmt.Fprintf(&b, `<svg id="timeline" class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="100%%" role="img" aria-label="node timeline" data-start="%s" data-now="%s">`,
		chartWidth, height, start.UTC().Format(time.RFC3339Nano), now.UTC().Format(time.RFC3339Nano))
	// Axis: ticks at a round interval, labelled with the time of day.
	step := tickStep(span)
	for t := start.Truncate(step).Add(step); t.Before(now); t = t.Add(step) {
		xt := x(t)
		fmt.Fprintf(&b, `<line class="tick" x1="%.1f" y1="%d" x2="%.1f" y2="%d"/><text class="tick-label" x="%.1f" y="%d" text-anchor="middle">%s</text>`,
			xt, axisHeight-4, xt, axisHeight+rh*len(rows), xt, axisHeight-8, t.Format("15:04:05"))
	}
	for i, r := range rows {
		y := axisHeight + i*rh
		fmt.Fprintf(&b, `<g class="tl-row" data-node="%s">`, html.EscapeString(r.name))
		label := r.name
		if inst := timeline.Installed(r.bars); !inst.IsZero() && len(r.bars) > 0 {
			label += " · " + shortDuration(inst.Sub(r.bars[0].Start))
		}
		fmt.Fprintf(&b, `<text class="tl-label" x="%d" y="%d" font-size="%d">%s</text>`, labelWidth-6, y+rh-(rh-font)/2-1, font, html.EscapeString(label))
		for _, bar := range r.bars {
			x0, x1 := x(bar.Start), x(bar.End)
			what := string(bar.Phase)
			if bar.Stage != "" {
				what += " (" + bar.Stage + ")"
			}
			fmt.Fprintf(&b, `<rect class="ph ph-%s%s" x="%.1f" y="%d" width="%.1f" height="%d" data-phase="%s" data-stage="%s" data-start="%s" data-end="%s"><title>%s: %s, %s–%s (%s)</title></rect>`,
				bar.Phase, stageClass(bar), x0, y+1, max(x1-x0, 1), rh-2, bar.Phase, html.EscapeString(bar.Stage),
				bar.Start.UTC().Format(time.RFC3339Nano), bar.End.UTC().Format(time.RFC3339Nano),
				html.EscapeString(r.name), html.EscapeString(what), bar.Start.Format("15:04:05"), bar.End.Format("15:04:05"), shortDuration(bar.End.Sub(bar.Start)))
		}
		for _, m := range r.marks {
			xm := x(m.Time)
			fmt.Fprintf(&b, `<path class="mark mark-%s" d="M%.1f %d l%d %d l%d 0 z" data-kind="%s" data-time="%s"><title>%s %s: %s</title></path>`,
				m.Kind, xm, y+rh-1, -rh/3, -(rh - 2), 2*(rh/3), m.Kind, m.Time.UTC().Format(time.RFC3339Nano),
				m.Time.Format("15:04:05"), m.Kind, html.EscapeString(m.Detail))
		}
		b.WriteString(`</g>`)
	}
	xn := x(now)
	fmt.Fprintf(&b, `<line class="now" x1="%.1f" y1="%d" x2="%.1f" y2="%d"><title>now, %s</title></line>`, xn, axisHeight-6, xn, axisHeight+rh*len(rows), now.Format("15:04:05"))
	// Legend.
	lx, ly := float64(labelWidth), axisHeight+rh*len(rows)+8
	for _, p := range []timeline.Phase{timeline.PhaseBooting, timeline.PhaseDiscovering, timeline.PhaseReady, timeline.PhaseInstalling, timeline.PhaseRebooting, timeline.PhaseDone, timeline.PhaseError} {
		fmt.Fprintf(&b, `<rect class="ph ph-%s legend" x="%.0f" y="%d" width="12" height="12"/><text class="legend-label" x="%.0f" y="%d">%s</text>`, p, lx, ly, lx+16, ly+10, p)
		lx += 110
	}
	fmt.Fprintf(&b, `<path class="mark mark-remedy legend" d="M%.0f %d l-5 -11 l10 0 z"/><text class="legend-label" x="%.0f" y="%d">remedy / stall</text>`, lx+5, ly+12, lx+14, ly+10)
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every text from outside is escaped above
}

// stageClass gives install stages their own shade (" st-writing-image-to-disk").
func stageClass(b timeline.Bar) string {
	if b.Stage == "" || b.Phase != timeline.PhaseInstalling {
		return ""
	}
	var c strings.Builder
	for _, r := range strings.ToLower(b.Stage) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			c.WriteRune(r)
		} else {
			c.WriteByte('-')
		}
	}
	return " st-" + c.String()
}

// tickStep is a round interval that puts at most about ten ticks on span.
func tickStep(span time.Duration) time.Duration {
	for _, s := range []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
		time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 6 * time.Hour} {
		if span/s <= 10 {
			return s
		}
	}
	return 24 * time.Hour
}

// shortDuration is a duration for a chart: whole seconds, or milliseconds under a second.
func shortDuration(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
