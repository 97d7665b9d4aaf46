package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/cn2-appliance/cn2-appliance/pkg/appliance"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
)

// TestPlanShowsNTPPerNetwork: the example lab validates without a warning, and the plan hands
// each network the appliance's own address on it as its NTP server.
func TestPlanShowsNTPPerNetwork(t *testing.T) {
	out, errOut, code := run(t, "validate", "-c", exampleLab)
	if code != 0 || strings.Contains(out+errOut, "warning") {
		t.Fatalf("validate: code %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = run(t, "plan", "-c", exampleLab, "-o", "json")
	if code != 0 {
		t.Fatalf("plan: code %d: %s", code, errOut)
	}
	var p struct {
		NTPServers map[string][]string `json:"ntpServers"`
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.NTPServers["ctrl"], []string{"172.16.0.1:123"}) || !slices.Equal(p.NTPServers["data"], []string{"10.16.0.1:123"}) {
		t.Errorf("plan's NTP servers %v, want ctrl 172.16.0.1:123 and data 10.16.0.1:123", p.NTPServers)
	}
	out, _, _ = run(t, "plan", "-c", exampleLab)
	for _, want := range []string{"10.16.0.0/24): appliance 10.16.0.1, no pool, NTP 10.16.0.1:123", "NTP server: the host clock on port 123"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan text lacks %q:\n%s", want, out)
		}
	}
}

// TestPlanJSONIsNewPlan: `plan -o json` prints appliance.NewPlan's object, the one a run
// report's plan.json holds (pkg/appliance's TestReportPlanIsThePlan checks that side).
func TestPlanJSONIsNewPlan(t *testing.T) {
	out, errOut, code := run(t, "plan", "-c", exampleLab, "-o", "json")
	if code != 0 {
		t.Fatalf("plan: code %d: %s", code, errOut)
	}
	lab, err := config.Load(exampleLab)
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.MarshalIndent(appliance.NewPlan(lab), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want)+"\n" {
		t.Errorf("plan -o json:\n%s\nwant appliance.NewPlan:\n%s", out, want)
	}
}
