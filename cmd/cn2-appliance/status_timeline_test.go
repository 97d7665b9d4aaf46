package main

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/status"
	"github.com/cn2-appliance/cn2-appliance/pkg/timeline"
	"github.com/prometheus/client_golang/prometheus"
)

type oneTimeline map[string][]timeline.Entry

func (o oneTimeline) Node(n string) []timeline.Entry   { return o[n] }
func (o oneTimeline) All() map[string][]timeline.Entry { return o }

func TestStatusNodeShowsItsTimeline(t *testing.T) {
	t0 := time.Now().Add(-10 * time.Minute)
	tl := oneTimeline{"worker-1": {
		{Time: t0, Kind: timeline.KindPower, Detail: "boot"},
		{Time: t0.Add(5 * time.Second), Kind: timeline.KindFile, Detail: "rootfs", Bytes: 100e6, Duration: 2 * time.Second, Rate: 50e6},
		{Time: t0.Add(time.Minute), Kind: timeline.KindHost, Detail: "known"},
		{Time: t0.Add(2 * time.Minute), Kind: timeline.KindValidation, Subject: "ntp-synced", Detail: "success"},
		{Time: t0.Add(8 * time.Minute), Kind: timeline.KindHost, Detail: "installed/Done"},
	}}
	snap := status.Snapshot{Time: time.Now(), Nodes: []status.Node{{Name: "worker-1"}, {Name: "worker-0"}}}
	srv := httptest.NewServer(status.NewHandler(status.Options{Source: func() status.Snapshot { return snap }, Gatherer: prometheus.NewRegistry(), Timelines: tl}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	out, errOut, code := run(t, "status", "--addr", addr, "worker-1")
	if code != 0 {
		t.Fatalf("status worker-1: code %d: %s", code, errOut)
	}
	for _, want := range []string{"worker-1: installed in 8m0s", "booting", "ready", "done", "rootfs, 100000000 bytes in 2s (50.0 MB/s)", "ntp-synced: success"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if out, _, code := run(t, "status", "--addr", addr, "worker-0"); code != 0 || !strings.Contains(out, "worker-0: no milestones yet") {
		t.Errorf("a node without milestones: %d %s", code, out)
	}
	if out, _, code := run(t, "status", "--addr", addr, "--json", "worker-1"); code != 0 || !strings.Contains(out, `"milestones"`) {
		t.Errorf("--json: %d %s", code, out)
	}
	if _, errOut, code := run(t, "status", "--addr", addr, "nobody"); code == 0 || !strings.Contains(errOut, `no node "nobody"`) {
		t.Errorf("unknown node: code %d %s", code, errOut)
	}
}
