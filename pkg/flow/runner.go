// Package flow runs the install as a list of named, idempotent steps whose progress is kept in
// the store after every change, so that a restart resumes where the last run stopped. The
// runner knows nothing about the installer: the steps (steps.go) do, and each reads the
// service's state before it changes anything.
package flow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/retry"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
)

// Step states.
const (
	StatePending = "pending"
	StateRunning = "running"
	StateDone    = "done"
	StateFailed  = "failed"
)

// Step is one named piece of the flow. Run must be idempotent: it may be run again after a
// crash at any point inside it.
type Step struct {
	Name    string
	Timeout time.Duration // 0: no timeout of its own
	Run     func(ctx context.Context) error
}

// StepRecord is what the store keeps about a step.
type StepRecord struct {
	Name      string    `json:"name"`
	State     string    `json:"state"`
	Started   time.Time `json:"started,omitzero"`
	Finished  time.Time `json:"finished,omitzero"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"lastError,omitempty"`
}

// permanentError stops the flow: retrying cannot help until the lab changes.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as one that retrying will not fix.
func Permanent(err error) error { return permanentError{err} }

// ErrStopped is returned by Run when a step failed permanently.
var ErrStopped = errors.New("flow stopped on a permanent error")

const (
	docKind       = "flow"
	docStepsKey   = "steps"
	minRetryDelay = 2 * time.Second
	maxRetryDelay = time.Minute
)

// Runner runs steps in order, persisting each step's record.
type Runner struct {
	store *store.Store
	log   *slog.Logger
	steps []Step
	// RetryDelay is the first wait after a failed step; it doubles up to a minute.
	RetryDelay time.Duration
	// Heartbeat is called before every step attempt (liveness; may be nil).
	Heartbeat func()

	mu      sync.Mutex
	records []StepRecord
}

// NewRunner loads the steps' records from the store; steps it has no record of are pending.
func NewRunner(st *store.Store, log *slog.Logger, steps []Step) (*Runner, error) {
	r := &Runner{store: st, log: log, steps: steps, RetryDelay: minRetryDelay}
	var saved []StepRecord
	if _, err := st.GetDoc(docKind, docStepsKey, &saved); err != nil {
		return nil, fmt.Errorf("flow: load progress: %w", err)
	}
	byName := map[string]StepRecord{}
	for _, s := range saved {
		byName[s.Name] = s
	}
	for _, s := range steps {
		rec, ok := byName[s.Name]
		if !ok {
			rec = StepRecord{Name: s.Name, State: StatePending}
		}
		if rec.State == StateRunning { // the last run died inside it: it runs again
			rec.State = StatePending
		}
		r.records = append(r.records, rec)
	}
	return r, nil
}

// Records returns a copy of every step's record, in order.
func (r *Runner) Records() []StepRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]StepRecord(nil), r.records...)
}

// Current is the name of the first step not done, or "" when all are.
func (r *Runner) Current() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.records {
		if rec.State != StateDone {
			return rec.Name
		}
	}
	return ""
}

// update changes step i's record and saves every record; the change only counts once saved.
func (r *Runner) update(i int, change func(*StepRecord)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	next := append([]StepRecord(nil), r.records...)
	change(&next[i])
	if err := r.store.PutDoc(docKind, docStepsKey, next); err != nil {
		return fmt.Errorf("flow: save progress of %s: %w", next[i].Name, err)
	}
	r.records = next
	return nil
}

// Run runs every step that is not done, in order, retrying a failed step (retry.Do, no bound
// on the tries, waits doubling from RetryDelay up to a minute) until it succeeds, ctx ends, or
// it fails permanently.
func (r *Runner) Run(ctx context.Context) error {
	for i, step := range r.steps {
		if r.Records()[i].State == StateDone {
			continue
		}
		policy := retry.Policy{First: r.RetryDelay, Max: maxRetryDelay, OnRetry: func(_ int, err error, wait time.Duration) {
			r.log.Warn("flow: step failed; retrying", "step", step.Name, "err", err, "retry_in", wait)
		}}
		err := retry.Do(ctx, policy, func(int) error {
			if r.Heartbeat != nil {
				r.Heartbeat()
			}
			err := r.runStep(ctx, i, step)
			var perm permanentError
			if errors.As(err, &perm) {
				return retry.Permanent(err)
			}
			return err
		})
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return ctx.Err()
		default: // with no bound on the tries, only a permanent failure ends them
			r.log.Error("flow: step failed; the flow stops until the lab changes", "step", step.Name, "err", err)
			return fmt.Errorf("%w: %s: %v", ErrStopped, step.Name, err)
		}
	}
	return nil
}

func (r *Runner) runStep(ctx context.Context, i int, step Step) error {
	if err := r.update(i, func(rec *StepRecord) {
		rec.State = StateRunning
		rec.Attempts++
		if rec.Started.IsZero() {
			rec.Started = time.Now()
		}
	}); err != nil {
		return err
	}
	r.log.Info("flow: step started", "step", step.Name)
	stepCtx, cancel := ctx, context.CancelFunc(func() {})
	if step.Timeout > 0 {
		stepCtx, cancel = context.WithTimeoutCause(ctx, step.Timeout, fmt.Errorf("timed out after %s", step.Timeout))
	}
	err := step.Run(stepCtx)
	if err != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		err = fmt.Errorf("%w: %w", context.Cause(stepCtx), err)
	}
	cancel()
	if err != nil {
		if ctx.Err() != nil { // stopping: the step is not failed, it runs again next time
			_ = r.update(i, func(rec *StepRecord) { rec.State = StatePending })
			return err
		}
		if uerr := r.update(i, func(rec *StepRecord) { rec.State = StateFailed; rec.LastError = err.Error() }); uerr != nil {
			return uerr
		}
		return err
	}
	r.log.Info("flow: step done", "step", step.Name)
	return r.update(i, func(rec *StepRecord) { rec.State = StateDone; rec.Finished = time.Now(); rec.LastError = "" })
}

// Reset forgets every step's progress (for reprovisioning).
func (r *Runner) Reset() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.store.DeleteDoc(docKind, docStepsKey); err != nil {
		return fmt.Errorf("flow: reset progress: %w", err)
	}
	for i := range r.records {
		r.records[i] = StepRecord{Name: r.records[i].Name, State: StatePending}
	}
	return nil
}

// ResetSteps makes the named steps pending again, so that the next Run runs them.
func (r *Runner) ResetSteps(names []string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	next := append([]StepRecord(nil), r.records...)
	for i := range next {
		if slices.Contains(names, next[i].Name) {
			next[i] = StepRecord{Name: next[i].Name, State: StatePending}
		}
	}
	if err := r.store.PutDoc(docKind, docStepsKey, next); err != nil {
		return fmt.Errorf("flow: reset steps: %w", err)
	}
	r.records = next
	return nil
}
