package appliance

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/cn2-appliance/cn2-appliance/pkg/store"
	"github.com/prometheus/client_golang/prometheus"
)

// describing is a Registerer that keeps every metric name its collectors describe: the names
// /metrics can serve, vectors with no series yet included.
type describing struct {
	*prometheus.Registry
	names map[string]bool
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (d *describing) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 64)
	go func() { c.Describe(ch); close(ch) }()
	for desc := range ch {
		if m := fqName.FindStringSubmatch(desc.String()); m != nil {
			d.names[m[1]] = true
		}
	}
	return d.Registry.Register(c)
}

func (d *describing) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := d.Register(c); err != nil {
			panic(err)
		}
	}
}

// applianceMetricNames are the names of every metric the appliance registers, with the
// series names histograms and summaries add.
func applianceMetricNames(t *testing.T) map[string]bool {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reg := &describing{Registry: prometheus.NewRegistry(), names: map[string]bool{}}
	if _, err := New(exampleLab(t), st, reg, slog.New(slog.DiscardHandler), Options{Power: simulatedBMCs("http://127.0.0.1:1", exampleLab(t).Nodes)}); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for n := range reg.names {
		out[n] = true
		for _, s := range []string{"_bucket", "_sum", "_count"} {
			out[n+s] = true
		}
	}
	return out
}

// dashboardExprs are the queries of every panel of a Grafana dashboard, rows' panels included.
func dashboardExprs(t *testing.T, file string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"`
	}
	var d struct {
		Panels []json.RawMessage `json:"panels"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	out := map[string]string{}
	var walk func([]json.RawMessage)
	walk = func(ps []json.RawMessage) {
		for _, r := range ps {
			var p panel
			if err := json.Unmarshal(r, &p); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			for i, tg := range p.Targets {
				out[fmt.Sprintf("%s #%d", p.Title, i+1)] = tg.Expr
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

var metricRef = regexp.MustCompile(`\bcn2_appliance_[a-z0-9_]+`)

// TestGrafanaDashboardQueries: every query of contrib/grafana's dashboard is valid PromQL
// (promtool checks it as a recording rule) and names only metrics the appliance registers.
func TestGrafanaDashboardQueries(t *testing.T) {
	exprs := dashboardExprs(t, "../../contrib/grafana/cn2-appliance.json")
	if len(exprs) < 20 {
		t.Fatalf("the dashboard has %d queries", len(exprs))
	}
	names := applianceMetricNames(t)
	var titles []string
	for title := range exprs {
		titles = append(titles, title)
	}
	sort.Strings(titles)
	var rules strings.Builder
	rules.WriteString("groups:\n- name: dashboard\n  rules:\n")
	for i, title := range titles {
		expr := exprs[title]
		refs := metricRef.FindAllString(expr, -1)
		if len(refs) == 0 {
			t.Errorf("panel %q queries no cn2_appliance_ metric: %s", title, expr)
		}
		for _, m := range refs {
			if !names[m] {
				t.Errorf("panel %q: the appliance has no metric %s", title, m)
			}
		}
		// Grafana's interval macros are not PromQL: give them a value for promtool.
		e := strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m").Replace(expr)
		q, _ := json.Marshal(e)
		fmt.Fprintf(&rules, "  - record: dashboard:query_%d\n    expr: %s\n", i, q)
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("needs promtool to check the queries (apt-get install prometheus; scripts/install-test-deps.sh installs it)")
	}
	file := filepath.Join(t.TempDir(), "dashboard-rules.yaml")
	if err := os.WriteFile(file, []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", file).CombinedOutput(); err != nil || !strings.Contains(string(out), fmt.Sprintf("%d rules found", len(exprs))) {
		t.Errorf("promtool check rules: %v\n%s\n%s", err, out, rules.String())
	}
	if !slices.Contains(titles, "Hosts by install stage #1") {
		t.Errorf("the dashboard lacks the per-node stage panel")
	}
}
