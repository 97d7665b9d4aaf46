package timeline

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func openStore(t *testing.T, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

var lab = []Node{
	{Name: "master-0", MACs: []string{"52:54:00:00:00:11", "52:54:00:00:01:11"}, IPs: []string{"172.16.0.11", "10.0.0.11"}},
	{Name: "worker-0", MACs: []string{"52:54:00:00:00:21"}, IPs: []string{"172.16.0.21"}},
}

func TestRecordMapsAddressesToNodes(t *testing.T) {
	l, err := Open(openStore(t, t.TempDir()), nil)
	if err != nil {
		t.Fatal(err)
	}
	l.SetLab(lab)
	l.Record(Milestone{MAC: "52:54:00:00:01:11", Kind: KindDHCP, Detail: "DISCOVER → OFFER 10.16.0.11 (data)"})
	l.Record(Milestone{MAC: "52:54:00:00:00:11", Kind: KindDHCP, Detail: "REQUEST → ACK 172.16.0.11 (ctrl)"})
	l.Record(Milestone{IP: "172.16.0.11", Kind: KindFile, Detail: "kernel", Bytes: 8 << 20, Duration: 2 * time.Second})
	l.Record(Milestone{IP: "10.0.0.11", Kind: KindISO, Detail: "bytes 0-2047"})
	l.Record(Milestone{Node: "worker-0", Kind: KindPower, Detail: "boot"})
	l.Record(Milestone{MAC: "52:54:00:00:99:99", Kind: KindDHCP, Detail: "a stranger"})
	l.Record(Milestone{IP: "192.0.2.1", Kind: KindFile})
	l.Record(Milestone{Node: "not-in-lab", Kind: KindPower})

	m := l.Node("master-0")
	if len(m) != 4 {
		t.Fatalf("master-0 has %d entries, want 4: %+v", len(m), m)
	}
	if m[0].MAC != "52:54:00:00:01:11" || m[2].Rate != float64(4<<20) || m[3].Kind != KindISO {
		t.Errorf("entries = %+v", m)
	}
	if w := l.Node("worker-0"); len(w) != 1 || w[0].Detail != "boot" {
		t.Errorf("worker-0 = %+v", w)
	}
	if l.Ignored() != 3 {
		t.Errorf("ignored = %d, want 3", l.Ignored())
	}
}

func TestStatesAreRecordedWhenTheyChange(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	l, err := Open(st, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.SetLab(lab)
	for _, d := range []string{"discovering", "discovering", "known", "known", "installing-in-progress/Installing", "installing-in-progress/Installing"} {
		l.Record(Milestone{Node: "master-0", Kind: KindHost, Detail: d})
	}
	for range 3 {
		l.Record(Milestone{Node: "master-0", Kind: KindValidation, Subject: "has-inventory", Detail: "success"})
		l.Record(Milestone{Node: "master-0", Kind: KindValidation, Subject: "ntp-synced", Detail: "failure"})
	}
	if n := len(l.Node("master-0")); n != 5 {
		t.Fatalf("%d entries, want 3 host states and 2 validations: %+v", n, l.Node("master-0"))
	}
	l.Flush()
	st.Close()

	// After a restart the last states are known: the same state again is no milestone.
	st = openStore(t, dir)
	defer st.Close()
	l, err = Open(st, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.SetLab(lab)
	if n := len(l.Node("master-0")); n != 5 {
		t.Fatalf("reloaded %d entries, want 5", n)
	}
	l.Record(Milestone{Node: "master-0", Kind: KindHost, Detail: "installing-in-progress/Installing"})
	l.Record(Milestone{Node: "master-0", Kind: KindValidation, Subject: "ntp-synced", Detail: "success"})
	if got := l.Node("master-0"); len(got) != 6 || got[5].Subject != "ntp-synced" || got[5].Detail != "success" {
		t.Errorf("after restart = %+v", got)
	}
}

func TestTimelinesAreBoundedAndWritesNeverBlock(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	l, err := Open(st, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.SetLab(lab)
	// No Run: nothing drains the queue, and Record must still return.
	total := QueueSize + 500
	for i := range total {
		l.Record(Milestone{MAC: "52:54:00:00:00:21", Kind: KindDHCP, Detail: "DISCOVER → OFFER", Bytes: int64(i)})
	}
	if got := l.Dropped(); got != 500 {
		t.Errorf("dropped = %d, want 500 (beyond the queue)", got)
	}
	w := l.Node("worker-0")
	if len(w) != MaxPerNode || w[len(w)-1].Bytes != int64(total-1) || w[0].Bytes != int64(total-MaxPerNode) {
		t.Fatalf("kept %d entries (first %d, last %d), want the newest %d", len(w), w[0].Bytes, w[len(w)-1].Bytes, MaxPerNode)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- l.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	raw, err := st.Log(storeKind, "worker-0")
	if err != nil || len(raw) != MaxPerNode {
		t.Fatalf("store holds %d entries (%v), want %d", len(raw), err, MaxPerNode)
	}
}

func TestPhases(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	entries := []Entry{
		{Time: at(0), Kind: KindPower, Detail: "boot"},
		{Time: at(5), Kind: KindDHCP, Detail: "DISCOVER → OFFER"},
		{Time: at(8), Kind: KindFile, Detail: "rootfs"},
		{Time: at(30), Kind: KindHost, Detail: "discovering"},
		{Time: at(40), Kind: KindHost, Detail: "insufficient"},
		{Time: at(60), Kind: KindHost, Detail: "known"},
		{Time: at(90), Kind: KindHost, Detail: "installing-in-progress/Installing"},
		{Time: at(100), Kind: KindHost, Detail: "installing-in-progress/Writing image to disk"},
		{Time: at(120), Kind: KindDiskBoot, Detail: "image written"},
		{Time: at(121), Kind: KindHost, Detail: "installing-in-progress/Rebooting"},
		{Time: at(150), Kind: KindRemedy, Detail: "powered off instead of rebooting"},
		{Time: at(151), Kind: KindPower, Detail: "power-on"},
		{Time: at(160), Kind: KindHost, Detail: "installing-in-progress/Configuring"},
		{Time: at(200), Kind: KindHost, Detail: "installed"},
	}
	bars, marks := Phases(entries, at(300))
	want := []struct {
		p      Phase
		stage  string
		s, end int
	}{
		{PhaseBooting, "", 0, 30}, {PhaseDiscovering, "", 30, 60}, {PhaseReady, "", 60, 90},
		{PhaseInstalling, "Installing", 90, 100}, {PhaseInstalling, "Writing image to disk", 100, 121},
		{PhaseRebooting, "Rebooting", 121, 160}, {PhaseInstalling, "Configuring", 160, 200}, {PhaseDone, "", 200, 300},
	}
	if len(bars) != len(want) {
		t.Fatalf("bars = %+v", bars)
	}
	for i, w := range want {
		b := bars[i]
		if b.Phase != w.p || b.Stage != w.stage || !b.Start.Equal(at(w.s)) || !b.End.Equal(at(w.end)) {
			t.Errorf("bar %d = %+v, want %+v", i, b, w)
		}
	}
	if len(marks) != 2 || marks[0].Kind != KindDiskBoot || marks[1].Kind != KindRemedy {
		t.Errorf("marks = %+v", marks)
	}
	if got := Installed(bars); !got.Equal(at(200)) {
		t.Errorf("installed at %v", got)
	}
}

// TestConcurrentRecordsAreAllWritten: callers on many goroutines, the writer flushing, a
// reader: every milestone ends up in memory and in the store, once.
func TestConcurrentRecordsAreAllWritten(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	l, err := Open(st, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.SetLab(lab)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- l.Run(ctx) }()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				mac := lab[g%2].MACs[0]
				l.Record(Milestone{MAC: mac, Kind: KindDHCP, Bytes: int64(i)})
				_ = l.Node(lab[g%2].Name)
			}
		}()
	}
	wg.Wait()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, n := range lab {
		raw, err := st.Log(storeKind, n.Name)
		if err != nil || len(raw) != 400 || len(l.Node(n.Name)) != 400 {
			t.Errorf("%s: %d stored (%v), %d in memory; want 400", n.Name, len(raw), err, len(l.Node(n.Name)))
		}
	}
}

func TestCollectorCountsWhatWasNotKept(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	l, err := Open(st, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.SetLab(lab)
	l.Record(Milestone{MAC: "02:00:00:00:00:01", Kind: KindDHCP})
	reg := prometheus.NewRegistry()
	reg.MustRegister(l.Collector())
	if n, err := testutil.GatherAndCount(reg, "cn2_appliance_timeline_ignored_total"); err != nil || n != 1 {
		t.Fatalf("ignored series: %d %v", n, err)
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "cn2_appliance_timeline_ignored_total" && mf.GetMetric()[0].GetCounter().GetValue() != 1 {
			t.Errorf("ignored = %v, want 1", mf.GetMetric()[0].GetCounter().GetValue())
		}
	}
}
