package store

import (
	"fmt"
	"testing"
	"time"
)

func appendN(t *testing.T, s *Store, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		if _, err := s.AppendEvent(Event{Time: t0.Add(time.Duration(i) * time.Second), Level: "info", Source: "test", Message: fmt.Sprint("m", i)}); err != nil {
			t.Fatal(err)
		}
	}
}

// seqs lists the Seq of each event.
func seqs(evs []Event) []uint64 {
	out := make([]uint64, 0, len(evs))
	for _, e := range evs {
		out = append(out, e.Seq)
	}
	return out
}

func TestEvents(t *testing.T) {
	s := openTemp(t)
	if evs, err := s.Events(0, 0); err != nil || len(evs) != 0 {
		t.Fatalf("empty log: %v, %v", evs, err)
	}
	appendN(t, s, 5)
	for _, tc := range []struct {
		after uint64
		limit int
		want  string
	}{
		{0, 0, "[1 2 3 4 5]"},
		{0, 2, "[1 2]"},
		{2, 2, "[3 4]"},
		{4, 10, "[5]"},
		{5, 0, "[]"},
		{99, 0, "[]"},
		{^uint64(0), 0, "[]"},
	} {
		evs, err := s.Events(tc.after, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(seqs(evs)); got != tc.want {
			t.Errorf("Events(%d, %d) = %s, want %s", tc.after, tc.limit, got, tc.want)
		}
	}
	for _, tc := range []struct {
		n    int
		want string
	}{{0, "[]"}, {2, "[4 5]"}, {9, "[1 2 3 4 5]"}} {
		evs, err := s.RecentEvents(tc.n)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(seqs(evs)); got != tc.want {
			t.Errorf("RecentEvents(%d) = %s, want %s", tc.n, got, tc.want)
		}
	}
	evs, _ := s.Events(2, 1)
	want := Event{Seq: 3, Time: t0.Add(3 * time.Second), Level: "info", Source: "test", Message: "m3"}
	if len(evs) != 1 || evs[0] != want {
		t.Errorf("event 3 = %+v, want %+v", evs, want)
	}
}

func TestAppendEventDefaultsTime(t *testing.T) {
	s := openTemp(t)
	before := time.Now()
	if _, err := s.AppendEvent(Event{Seq: 42, Message: "x"}); err != nil {
		t.Fatal(err)
	}
	evs, err := s.Events(0, 0)
	if err != nil || len(evs) != 1 {
		t.Fatal(evs, err)
	}
	if evs[0].Seq != 1 {
		t.Errorf("Seq = %d, want 1 (the caller's Seq is ignored)", evs[0].Seq)
	}
	if evs[0].Time.Before(before.Add(-time.Second)) {
		t.Errorf("Time = %v, want about now", evs[0].Time)
	}
}

func TestEventLogIsBounded(t *testing.T) {
	s := openTemp(t)
	s.maxEvents = 10
	appendN(t, s, 25)
	evs, err := s.Events(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(seqs(evs)), "[16 17 18 19 20 21 22 23 24 25]"; got != want {
		t.Errorf("kept %s, want %s", got, want)
	}
	// A poller that fell behind resumes at the oldest kept event.
	if evs, _ := s.Events(3, 2); fmt.Sprint(seqs(evs)) != "[16 17]" {
		t.Errorf("Events(3, 2) = %v", seqs(evs))
	}
	// Lowering the bound (e.g. a smaller MaxEvents in a new release) prunes
	// on the next append.
	s.maxEvents = 3
	appendN(t, s, 1)
	if evs, _ := s.Events(0, 0); fmt.Sprint(seqs(evs)) != "[24 25 26]" {
		t.Errorf("after lowering the bound: %v", seqs(evs))
	}
}
