package appliance

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/netip"
	"reflect"
	"testing"

	"github.com/cn2-appliance/cn2-appliance/pkg/report"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
)

// reportParts writes a report of an appliance built (not run) for the example lab with a
// proxy, and returns its parts and the lab.
func reportParts(t *testing.T) (map[string][]byte, *Appliance) {
	t.Helper()
	lab := exampleLab(t)
	lab.Proxy.HTTPProxy, lab.Proxy.HTTPSProxy = "http://127.0.0.1:3128", "http://127.0.0.1:3128"
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a, err := New(lab, st, nil, slog.New(slog.DiscardHandler), Options{NoInstall: true})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := a.WriteReport(t.Context(), &buf); err != nil {
		t.Fatal(err)
	}
	parts, _, err := report.Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return parts, a
}

// TestReportPlanHasNTPAndNoProxy: the report's plan.json carries what `plan -o json` shows
// beyond the lab: each network's NTP endpoints, and the final no-proxy list.
func TestReportPlanHasNTPAndNoProxy(t *testing.T) {
	parts, a := reportParts(t)
	lab := a.Lab()
	var p struct {
		NTPServers map[string][]netip.AddrPort `json:"ntpServers"`
		NoProxy    []string                    `json:"noProxy"`
	}
	if err := json.Unmarshal(parts[ReportPlan], &p); err != nil {
		t.Fatalf("plan.json: %v\n%s", err, parts[ReportPlan])
	}
	for _, n := range lab.Networks {
		want := lab.NTPEndpoints(n.Name)
		if len(want) == 0 || !reflect.DeepEqual(p.NTPServers[n.Name], want) {
			t.Errorf("plan.json's NTP servers on %s = %v, want %v", n.Name, p.NTPServers[n.Name], want)
		}
	}
	if want := lab.NoProxy(); len(want) == 0 || !reflect.DeepEqual(p.NoProxy, want) {
		t.Errorf("plan.json's noProxy = %v, want %v", p.NoProxy, want)
	}
}

// TestReportPlanIsThePlan: plan.json is NewPlan's object, byte for byte as `plan -o json`
// encodes it (cmd's TestPlanJSONIsNewPlan checks the other side).
func TestReportPlanIsThePlan(t *testing.T) {
	parts, a := reportParts(t)
	want, err := json.MarshalIndent(NewPlan(a.Lab()), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if got := parts[ReportPlan]; !bytes.Equal(got, append(want, '\n')) {
		t.Errorf("plan.json differs from NewPlan:\n%s\nwant:\n%s", got, want)
	}
}
