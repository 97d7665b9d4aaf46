package appliance

import (
	"slices"
	"testing"

	"github.com/cn2-appliance/cn2-appliance/internal/labsim"
	"github.com/cn2-appliance/cn2-appliance/pkg/timeline"
)

// TestTimelineOfANodeItCannotBoot: the appliance gives the flow its timeline; a node whose
// BMC refuses shows the refused power action and the stall in its timeline, by name.
func TestTimelineOfANodeItCannotBoot(t *testing.T) {
	_, _, a, start := simLab(t, "FAKE-EXAMPLE-OFFLINE-TOKEN-not-a-real-token")
	a.Flow().SetPower("worker-1", refusingBMC{a.opts.Power["worker-1"].(*labsim.Power)})
	start()
	waitFor(t, "worker-1 refused power action in its timeline", func() bool {
		return slices.ContainsFunc(a.Timeline().Node("worker-1"), func(e timeline.Entry) bool { return e.Kind == timeline.KindPower && e.Err != "" })
	})
	entries := a.Timeline().Node("worker-1")
	if !slices.ContainsFunc(entries, func(e timeline.Entry) bool {
		return e.Kind == timeline.KindPower && e.Detail == "boot" && e.Err != ""
	}) || !slices.ContainsFunc(entries, func(e timeline.Entry) bool { return e.Kind == timeline.KindAttention }) {
		t.Errorf("worker-1's timeline lacks the refused boot and the stall: %+v", entries)
	}
}

func TestTimelineNodesKnowTheBMCAddress(t *testing.T) {
	for addr, want := range map[string]string{"https://10.0.0.11/redfish/v1": "10.0.0.11", "10.0.0.12:623": "10.0.0.12", "10.0.0.13": "10.0.0.13", "": ""} {
		if got := bmcHost(addr); got != want {
			t.Errorf("bmcHost(%q) = %q, want %q", addr, got, want)
		}
	}
	lab := exampleLab(t)
	n := timelineNodes(lab)[0]
	if n.Name != lab.Nodes[0].Name || len(n.MACs) != len(lab.Nodes[0].NICs) || len(n.IPs) < len(lab.Nodes[0].NICs) {
		t.Errorf("timeline node = %+v", n)
	}
}
