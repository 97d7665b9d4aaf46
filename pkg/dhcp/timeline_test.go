package dhcp

import (
	"strings"
	"testing"

	"github.com/cn2-appliance/cn2-appliance/pkg/timeline"
)

func TestRepliesAreMilestonesOfTheirNode(t *testing.T) {
	h := newHarness(t, labConfig())
	tl, err := timeline.Open(h.st, nil)
	if err != nil {
		t.Fatal(err)
	}
	tl.SetLab([]timeline.Node{{Name: "master-0", MACs: []string{macM0.String(), macM0b.String()}}})
	h.s.SetTimeline(tl)
	h.dora("srv-a", macM0)
	h.dora("srv-b", macM0b)
	h.dora("srv-a", macU1) // not a lab node: no timeline
	got := tl.Node("master-0")
	want := []string{
		"DISCOVER → OFFER 172.16.0.11 (ctrl)", "REQUEST → ACK 172.16.0.11 (ctrl)",
		"DISCOVER → OFFER 10.16.0.11 (data)", "REQUEST → ACK 10.16.0.11 (data)",
	}
	if len(got) != len(want) {
		t.Fatalf("milestones = %+v", got)
	}
	for i, w := range want {
		if got[i].Kind != timeline.KindDHCP || got[i].Detail != w || !strings.HasPrefix(got[i].MAC, "52:54:00:00:0") {
			t.Errorf("milestone %d = %+v, want %q", i, got[i], w)
		}
	}
	if tl.Ignored() != 2 {
		t.Errorf("ignored %d milestones, want the stranger's 2", tl.Ignored())
	}
}
