package flow

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/store"
)

func openStore(t *testing.T, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func newRunner(t *testing.T, st *store.Store, steps []Step) *Runner {
	t.Helper()
	r, err := NewRunner(st, slog.New(slog.DiscardHandler), steps)
	if err != nil {
		t.Fatal(err)
	}
	r.RetryDelay = time.Millisecond
	return r
}

func states(r *Runner) []string {
	var out []string
	for _, rec := range r.Records() {
		out = append(out, rec.Name+"="+rec.State)
	}
	return out
}

func TestRunnerRunsInOrderAndResumes(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	var ran []string
	step := func(name string, fail *int) Step {
		return Step{Name: name, Run: func(ctx context.Context) error {
			ran = append(ran, name)
			if fail != nil && *fail > 0 {
				*fail--
				return errors.New("service unavailable")
			}
			return nil
		}}
	}
	failB := 2
	steps := []Step{step("a", nil), step("b", &failB), step("c", nil)}
	r := newRunner(t, st, steps)
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "b", "b", "b", "c"}; !slices.Equal(ran, want) {
		t.Errorf("ran %v, want %v", ran, want)
	}
	if rec := r.Records()[1]; rec.Attempts != 3 || rec.State != StateDone || rec.LastError != "" {
		t.Errorf("b = %+v", rec)
	}
	st.Close()

	// A new runner on the same store finds everything done and runs nothing.
	st = openStore(t, dir)
	defer st.Close()
	ran = nil
	r = newRunner(t, st, steps)
	if err := r.Run(context.Background()); err != nil || len(ran) != 0 || r.Current() != "" {
		t.Errorf("resume ran %v, err %v, current %q", ran, err, r.Current())
	}
}

func TestRunnerResumesAStepThatWasRunning(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	if err := st.PutDoc(docKind, docStepsKey, []StepRecord{
		{Name: "a", State: StateDone, Attempts: 1}, {Name: "b", State: StateRunning, Attempts: 1},
	}); err != nil {
		t.Fatal(err)
	}
	var ran []string
	mk := func(n string) Step {
		return Step{Name: n, Run: func(context.Context) error { ran = append(ran, n); return nil }}
	}
	r := newRunner(t, st, []Step{mk("a"), mk("b"), mk("c")})
	if got := states(r); !slices.Equal(got, []string{"a=done", "b=pending", "c=pending"}) {
		t.Errorf("loaded %v", got)
	}
	if err := r.Run(context.Background()); err != nil || !slices.Equal(ran, []string{"b", "c"}) {
		t.Errorf("ran %v, err %v", ran, err)
	}
	if r.Records()[1].Attempts != 2 {
		t.Errorf("b attempts %d, want 2", r.Records()[1].Attempts)
	}
}

func TestRunnerStopsOnPermanentError(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	r := newRunner(t, st, []Step{
		{Name: "a", Run: func(context.Context) error { return Permanent(errors.New("cluster name taken by another user")) }},
		{Name: "b", Run: func(context.Context) error { t.Error("b ran"); return nil }},
	})
	err := r.Run(context.Background())
	if !errors.Is(err, ErrStopped) {
		t.Fatalf("err = %v", err)
	}
	if rec := r.Records()[0]; rec.State != StateFailed || rec.LastError != "cluster name taken by another user" {
		t.Errorf("a = %+v", rec)
	}
}

func TestRunnerStepTimeoutIsRecorded(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	attempts := 0
	r := newRunner(t, st, []Step{{Name: "wait-ready", Timeout: time.Millisecond, Run: func(ctx context.Context) error {
		attempts++
		if attempts == 1 {
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}}})
	var lastError string
	r.log = slog.New(slog.NewTextHandler(&captureWriter{fn: func(s string) {
		if strings.Contains(s, "retrying") {
			lastError = r.Records()[0].LastError
		}
	}}, nil))
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(lastError, "timed out after 1ms") {
		t.Errorf("recorded error %q", lastError)
	}
}

func TestRunnerCancelLeavesStepPending(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	ctx, cancel := context.WithCancel(context.Background())
	r := newRunner(t, st, []Step{{Name: "watch", Run: func(ctx context.Context) error {
		cancel()
		<-ctx.Done()
		return ctx.Err()
	}}})
	if err := r.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if rec := r.Records()[0]; rec.State != StatePending || rec.LastError != "" {
		t.Errorf("after cancel: %+v", rec)
	}
	if err := r.Reset(); err != nil || r.Records()[0].Attempts != 0 {
		t.Errorf("reset: %v %+v", err, r.Records())
	}
}

type captureWriter struct{ fn func(string) }

func (w *captureWriter) Write(p []byte) (int, error) { w.fn(string(p)); return len(p), nil }
