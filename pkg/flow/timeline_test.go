package flow_test

import (
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/aisim"
	"github.com/cn2-appliance/cn2-appliance/pkg/flow"
	"github.com/cn2-appliance/cn2-appliance/pkg/timeline"
)

// TestInstallMilestones: a whole install, with one node that powers off instead of rebooting,
// leaves each node a timeline from its first boot to installed, and the remedy marked.
func TestInstallMilestones(t *testing.T) {
	lab := exampleLab(t)
	sim, url := newSim(t, aisim.Options{})
	sim.PowerOffOnReboot("52:54:00:00:00:12")
	var tl *timeline.Log
	f, st := newFlowDeps(t, lab, url, t.TempDir(), t.TempDir(), &fakeBoot{}, slog.New(slog.DiscardHandler), nil, func(d *flow.Deps) {
		var err error
		if tl, err = timeline.Open(d.Store, nil); err != nil {
			t.Fatal(err)
		}
		var nodes []timeline.Node
		for _, n := range lab.Nodes {
			nodes = append(nodes, timeline.Node{Name: n.Name})
		}
		tl.SetLab(nodes)
		d.Timeline = tl
	})
	defer st.Close()
	runToEnd(t, f)

	for _, n := range lab.Nodes {
		entries := tl.Node(n.Name)
		kinds := map[timeline.Kind]int{}
		var hosts []string
		for _, e := range entries {
			kinds[e.Kind]++
			if e.Kind == timeline.KindHost {
				hosts = append(hosts, e.Detail)
			}
		}
		if len(entries) == 0 || entries[0].Kind != timeline.KindPower || entries[0].Detail != "boot" || entries[0].Err != "" {
			t.Errorf("%s: first milestone %+v, want its boot", n.Name, entries[0])
		}
		if len(hosts) < 3 || !strings.HasPrefix(hosts[len(hosts)-1], "installed") || !slices.Contains(hosts, "known") ||
			!slices.ContainsFunc(hosts, func(h string) bool { return h == "installing-in-progress/Writing image to disk" }) {
			t.Errorf("%s: host states %v, want known, the install stages and installed", n.Name, hosts)
		}
		if kinds[timeline.KindDiskBoot] != 1 || kinds[timeline.KindValidation] == 0 {
			t.Errorf("%s: milestones by kind %v, want one disk-boot switch and validations", n.Name, kinds)
		}
		bars, marks := timeline.Phases(entries, time.Now())
		if bars[0].Phase != timeline.PhaseBooting || bars[len(bars)-1].Phase != timeline.PhaseDone {
			t.Errorf("%s: bars %+v", n.Name, bars)
		}
		remedies := 0
		for _, m := range marks {
			if m.Kind == timeline.KindRemedy {
				remedies++
			}
		}
		if want := map[bool]int{true: 1, false: 0}[n.Name == "master-1"]; remedies != want {
			t.Errorf("%s: %d remedies marked, want %d: %+v", n.Name, remedies, want, marks)
		}
	}
}
