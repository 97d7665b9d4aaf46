package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// TestTimelineInChromium watches the status page's timeline chart through a rehearsal in a
// real browser: every rendering must draw one row per lab node, in the lab's order, each row's
// phase bars in time order without overlap, and the now-line. Mid-rehearsal (the first chart
// with a node not done yet) and once installed (every node's last bar "done", the header's
// install time) the page is kept as a screenshot ($CN2_TEST_ARTIFACTS when set).
func TestTimelineInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("the rehearsal runs for about a minute")
	}
	b := newBrowser(t)
	r := startRehearsal(t, 0.05)
	dir := os.Getenv("CN2_TEST_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, n := range r.lab.Nodes {
		want = append(want, n.Name)
	}
	shot := func(name string) {
		t.Helper()
		file := filepath.Join(dir, name)
		if err := b.screenshot(r.url, file); err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		png, err := os.ReadFile(file)
		if err != nil || len(png) < 10_000 || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
			t.Fatalf("screenshot %s is not a page-sized PNG (%d bytes, %v)", file, len(png), err)
		}
		t.Logf("screenshot: %s", file)
	}

	var midSeen, installed bool
	pages := 0
	for range 400 {
		dom, console, err := b.dumpDOM(r.url)
		if err != nil {
			t.Fatal(err)
		}
		if len(console) > 0 {
			t.Errorf("the page logged to the browser's console (a style the CSP blocks, a missing asset):\n%s", strings.Join(console, "\n"))
		}
		if _, err := parsePage(dom); err != nil {
			t.Fatalf("the page went away before it showed every node installed (%d pages): %v\n%s", pages, err, r.out.String())
		}
		pages++
		c := parseChart(t, dom)
		if c == nil {
			continue // no milestone yet
		}
		checkChart(t, c, want)
		if !midSeen && !c.allDone() {
			midSeen = true
			t.Logf("mid-rehearsal page: a node in an install stage: %v", c.anyInstalling())
			shot("timeline-mid-rehearsal.png")
		}
		if c.allDone() && strings.Contains(dom, `id="install-time"`) {
			installed = true
			shot("timeline-installed.png")
			break
		}
	}
	if !midSeen || !installed {
		t.Fatalf("after %d pages: a page before the end seen %v, every node done seen %v", pages, midSeen, installed)
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	if err := r.wait(); err != nil {
		t.Fatalf("rehearse: %v\n%s", err, r.out.String())
	}
}

// chart is the timeline SVG as the browser's DOM has it.
type chart struct {
	rows    []chartRow
	nowLine bool
}

type chartRow struct {
	node string
	bars []chartBar
}

type chartBar struct {
	phase, stage string
	start, end   time.Time
	x, width     float64
}

func (c *chart) anyInstalling() bool {
	for _, r := range c.rows {
		if n := len(r.bars); n > 0 && r.bars[n-1].phase == "installing" {
			return true
		}
	}
	return false
}

func (c *chart) allDone() bool {
	for _, r := range c.rows {
		if n := len(r.bars); n == 0 || r.bars[n-1].phase != "done" {
			return false
		}
	}
	return len(c.rows) > 0
}

// parseChart reads svg#timeline from a DOM dump; nil when the page has none yet.
func parseChart(t *testing.T, dom string) *chart {
	t.Helper()
	root, err := html.Parse(strings.NewReader(dom))
	if err != nil {
		t.Fatal(err)
	}
	var svg *html.Node
	var find func(n *html.Node)
	find = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "svg" && attr(n, "id") == "timeline" {
			svg = n
		}
		for c := n.FirstChild; c != nil && svg == nil; c = c.NextSibling {
			find(c)
		}
	}
	find(root)
	if svg == nil {
		return nil
	}
	c := &chart{}
	for g := svg.FirstChild; g != nil; g = g.NextSibling {
		if g.Type != html.ElementNode {
			continue
		}
		if g.Data == "line" && attr(g, "class") == "now" {
			c.nowLine = true
		}
		if g.Data != "g" || attr(g, "class") != "tl-row" {
			continue
		}
		row := chartRow{node: attr(g, "data-node")}
		for r := g.FirstChild; r != nil; r = r.NextSibling {
			if r.Type != html.ElementNode || r.Data != "rect" {
				continue
			}
			bar := chartBar{phase: attr(r, "data-phase"), stage: attr(r, "data-stage")}
			var errs [4]error
			bar.start, errs[0] = time.Parse(time.RFC3339Nano, attr(r, "data-start"))
			bar.end, errs[1] = time.Parse(time.RFC3339Nano, attr(r, "data-end"))
			bar.x, errs[2] = strconv.ParseFloat(attr(r, "x"), 64)
			bar.width, errs[3] = strconv.ParseFloat(attr(r, "width"), 64)
			for _, err := range errs {
				if err != nil {
					t.Fatalf("row %s: unreadable bar %v: %v", row.node, r.Attr, err)
				}
			}
			row.bars = append(row.bars, bar)
		}
		c.rows = append(c.rows, row)
	}
	return c
}

// checkChart asserts what every rendering of the chart must show; a node not booted yet has a
// row without bars (the end of the test wants every node's last bar done).
func checkChart(t *testing.T, c *chart, nodes []string) {
	t.Helper()
	var got []string
	for _, r := range c.rows {
		got = append(got, r.node)
	}
	if strings.Join(got, " ") != strings.Join(nodes, " ") {
		t.Fatalf("timeline rows %v, want one per node %v", got, nodes)
	}
	if !c.nowLine {
		t.Errorf("the timeline has no now-line")
	}
	for _, r := range c.rows {
		if len(r.bars) == 0 {
			continue // not booted yet (workers boot after the control plane); allDone needs bars
		}
		if r.bars[0].phase != "booting" {
			t.Errorf("node %s starts with %q, want booting", r.node, r.bars[0].phase)
		}
		for i, b := range r.bars {
			if b.end.Before(b.start) || b.width <= 0 {
				t.Errorf("node %s bar %d (%s) ends before it starts", r.node, i, b.phase)
			}
			if i == 0 {
				continue
			}
			p := r.bars[i-1]
			if b.start.Before(p.end) || b.x+0.05 < p.x+p.width-1 { // a bar is at least 1 unit wide
				t.Errorf("node %s bar %d (%s at %s) overlaps bar %d (%s to %s)", r.node, i, b.phase, b.start, i-1, p.phase, p.end)
			}
		}
	}
}
