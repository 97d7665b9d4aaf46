// Package retry is the project's one retry loop: installer calls (pkg/ai), BMC calls (pkg/bmc)
// and flow steps (pkg/flow) all retry through Do. A retry is for idempotent operations only;
// deciding what may be repeated stays with the caller, which marks an error that a retry cannot
// help Permanent. The package knows nothing of HTTP, BMCs or steps.
package retry

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Policy says how often an operation is tried and how long Do waits between tries.
type Policy struct {
	// Tries bounds the tries, the first included; 0 means no bound: Do goes on until the
	// operation succeeds, fails permanently or ctx ends.
	Tries int
	// First is the wait after the first failed try; each wait doubles the last, up to Max
	// (Max 0: every wait is First).
	First, Max time.Duration
	// Jitter draws each wait uniformly from [First/2, wait], so that clients that failed
	// together do not come back together.
	Jitter bool
	// Sleep waits d or until ctx ends, returning ctx's error then; nil uses a timer. Tests
	// replace it.
	Sleep func(ctx context.Context, d time.Duration) error
	// OnRetry, when set, is called before each wait with the number of the try that failed
	// (from 1), its error and the wait.
	OnRetry func(try int, err error, wait time.Duration)
}

// Do calls op, with the number of the try (from 1), until it returns nil, returns an error
// marked Permanent, p.Tries tries are spent, or ctx ends. It returns op's last error, without
// the Permanent mark. When ctx ended, the error also matches ctx's error with errors.Is.
func Do(ctx context.Context, p Policy, op func(try int) error) error {
	for try := 1; ; try++ {
		err := op(try)
		if err == nil {
			return nil
		}
		var perm permanent
		if errors.As(err, &perm) {
			return perm.err
		}
		if ctx.Err() != nil {
			return stopped(ctx, err)
		}
		if p.Tries > 0 && try >= p.Tries {
			return err
		}
		wait := p.Wait(try)
		if p.OnRetry != nil {
			p.OnRetry(try, err, wait)
		}
		sleep := p.Sleep
		if sleep == nil {
			sleep = Sleep
		}
		if sleep(ctx, wait) != nil || ctx.Err() != nil {
			return stopped(ctx, err)
		}
	}
}

// Wait is the wait after the given failed try (from 1).
func (p Policy) Wait(try int) time.Duration {
	d := p.First
	for i := 1; i < try && d < p.Max; i++ {
		d *= 2
	}
	if p.Max > 0 && d > p.Max {
		d = p.Max
	}
	if lo := p.First / 2; p.Jitter && d > lo {
		d = lo + rand.N(d-lo)
	}
	return d
}

// Sleep waits d, or until ctx ends and then returns ctx's error.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// stopped is the error of a Do that ctx ended: last, if it already says so, or ctx's error
// with last.
func stopped(ctx context.Context, last error) error {
	if errors.Is(last, ctx.Err()) {
		return last
	}
	return fmt.Errorf("%w (last error: %w)", context.Cause(ctx), last)
}

type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent marks err as one that retrying cannot help: Do returns it at once (unmarked).
// Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}
