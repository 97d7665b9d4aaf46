package status

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/timeline"
)

type fakeTimelines map[string][]timeline.Entry

func (f fakeTimelines) Node(name string) []timeline.Entry { return f[name] }
func (f fakeTimelines) All() map[string][]timeline.Entry  { return f }

// installing is a node's timeline up to its install stage, starting at t0.
func installing(t0 time.Time) []timeline.Entry {
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	return []timeline.Entry{
		{Time: at(0), Kind: timeline.KindPower, Detail: "boot"},
		{Time: at(3), Kind: timeline.KindDHCP, Detail: "DISCOVER → OFFER 172.16.0.11 (ctrl)"},
		{Time: at(20), Kind: timeline.KindHost, Detail: "discovering"},
		{Time: at(40), Kind: timeline.KindHost, Detail: "known"},
		{Time: at(60), Kind: timeline.KindHost, Detail: "installing-in-progress/Writing image to disk"},
		{Time: at(70), Kind: timeline.KindRemedy, Detail: "reboot: <b>stalled</b>"},
	}
}

// svgChart is the chart as the tests read it.
type svgChart struct {
	XMLName xml.Name `xml:"svg"`
	ID      string   `xml:"id,attr"`
	Rows    []struct {
		Node  string `xml:"data-node,attr"`
		Rects []struct {
			Phase string  `xml:"data-phase,attr"`
			X     float64 `xml:"x,attr"`
			W     float64 `xml:"width,attr"`
			Start string  `xml:"data-start,attr"`
		} `xml:"rect"`
		Marks []struct {
			Kind string `xml:"data-kind,attr"`
		} `xml:"path"`
	} `xml:"g"`
}

func chartOf(t *testing.T, page string) svgChart {
	t.Helper()
	i, j := strings.Index(page, `<svg id="timeline"`), strings.Index(page, "</svg>")
	if i < 0 || j < i {
		t.Fatalf("no timeline chart in the page")
	}
	var c svgChart
	if err := xml.Unmarshal([]byte(page[i:j+len("</svg>")]), &c); err != nil {
		t.Fatalf("the chart is not well-formed SVG: %v", err)
	}
	return c
}

func TestTimelineChartAndAPI(t *testing.T) {
	snap := sample()
	snap.Steps[0].Started = snap.Time.Add(-5 * time.Minute)
	tl := fakeTimelines{"master-0": installing(snap.Time.Add(-4 * time.Minute))}
	srv := serve(t, Options{Source: func() Snapshot { return snap }, Timelines: tl})

	code, page := get(t, srv.URL+"/")
	if code != 200 {
		t.Fatalf("page: %d", code)
	}
	if !strings.Contains(page, `id="elapsed">5m0s<`) {
		t.Errorf("header lacks the elapsed time")
	}
	if strings.Contains(page, "<b>stalled</b>") || strings.Contains(page, "<script") {
		t.Errorf("a milestone's text is not escaped")
	}
	c := chartOf(t, page)
	if len(c.Rows) != 2 || c.Rows[0].Node != "master-0" || c.Rows[1].Node != "worker-1" {
		t.Fatalf("rows = %+v, want master-0 and worker-1", c.Rows)
	}
	var phases []string
	for i, r := range c.Rows[0].Rects {
		phases = append(phases, r.Phase)
		if i > 0 && r.X < c.Rows[0].Rects[i-1].X+c.Rows[0].Rects[i-1].W-0.2 {
			t.Errorf("bar %d (%s) starts at %.1f, before the previous one ends", i, r.Phase, r.X)
		}
	}
	if got := strings.Join(phases, " "); got != "booting discovering ready installing" {
		t.Errorf("master-0 phases %q", got)
	}
	if len(c.Rows[0].Marks) != 1 || c.Rows[0].Marks[0].Kind != "remedy" {
		t.Errorf("marks %+v, want the remedy", c.Rows[0].Marks)
	}
	if len(c.Rows[1].Rects) != 0 {
		t.Errorf("worker-1 without milestones has bars")
	}

	resp, err := http.Get(srv.URL + "/api/v1/nodes/master-0/timeline")
	if err != nil {
		t.Fatal(err)
	}
	var nt NodeTimeline
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := json.Unmarshal(body, &nt); err != nil || nt.Node != "master-0" || len(nt.Milestones) != 6 || len(nt.Phases) != 4 || len(nt.Marks) != 1 {
		t.Errorf("API: %v %s", err, body)
	}
	if code, body := get(t, srv.URL+"/api/v1/nodes/worker-1/timeline"); code != 200 || !strings.Contains(body, `"milestones": []`) {
		t.Errorf("a node without milestones: %d %s", code, body)
	}
	if code, _ := get(t, srv.URL+"/api/v1/nodes/nobody/timeline"); code != 404 {
		t.Errorf("unknown node: %d, want 404", code)
	}
}

// TestTimelineChartAt200Nodes: every node has its row, rows do not shrink below readable, and
// the chart stays a size a browser draws at once.
func TestTimelineChartAt200Nodes(t *testing.T) {
	snap := sample()
	snap.Nodes = nil
	tl := fakeTimelines{}
	for i := range 200 {
		name := fmt.Sprintf("worker-%03d", i)
		snap.Nodes = append(snap.Nodes, Node{Name: name, Role: "worker"})
		tl[name] = installing(snap.Time.Add(-10*time.Minute + time.Duration(i)*time.Second))
	}
	html := string(renderTimeline(snap, tl))
	c := chartOf(t, html)
	if len(c.Rows) != 200 {
		t.Fatalf("%d rows, want 200", len(c.Rows))
	}
	for _, r := range c.Rows {
		if len(r.Rects) != 4 {
			t.Fatalf("row %s has %d bars", r.Node, len(r.Rects))
		}
	}
	if rowHeight(200) < 10 || len(html) > 2<<20 {
		t.Errorf("row height %d, chart %d bytes", rowHeight(200), len(html))
	}
}
