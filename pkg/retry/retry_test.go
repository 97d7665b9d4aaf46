package retry_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/retry"
)

// recorder is a Sleep that records the waits and never waits.
type recorder struct{ waits []time.Duration }

func (r *recorder) sleep(ctx context.Context, d time.Duration) error {
	r.waits = append(r.waits, d)
	return ctx.Err()
}

var errFlaky = errors.New("connection reset")

func TestDo(t *testing.T) {
	for _, tc := range []struct {
		name      string
		policy    retry.Policy
		fails     int   // the first fails tries fail with errFlaky
		failWith  error // then every try fails with this (nil: succeeds)
		wantTries int
		wantErr   error
		wantWaits []time.Duration
	}{
		{name: "first try", policy: retry.Policy{Tries: 3, First: time.Second}, wantTries: 1},
		{name: "third try", policy: retry.Policy{Tries: 3, First: time.Second, Max: 10 * time.Second}, fails: 2,
			wantTries: 3, wantWaits: []time.Duration{time.Second, 2 * time.Second}},
		{name: "tries spent", policy: retry.Policy{Tries: 3, First: time.Second, Max: 10 * time.Second}, fails: 9,
			wantTries: 3, wantErr: errFlaky, wantWaits: []time.Duration{time.Second, 2 * time.Second}},
		{name: "waits are capped", policy: retry.Policy{First: 2 * time.Second, Max: 5 * time.Second}, fails: 5,
			wantTries: 6, wantWaits: []time.Duration{2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second, 5 * time.Second}},
		{name: "no max: constant", policy: retry.Policy{First: time.Second}, fails: 3,
			wantTries: 4, wantWaits: []time.Duration{time.Second, time.Second, time.Second}},
		{name: "permanent: at once, unmarked", policy: retry.Policy{Tries: 5, First: time.Second}, fails: 1,
			failWith: retry.Permanent(fmt.Errorf("login: %w", errAuth)), wantTries: 2, wantErr: errAuth,
			wantWaits: []time.Duration{time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rec recorder
			tc.policy.Sleep = rec.sleep
			var notified []int
			tc.policy.OnRetry = func(try int, err error, wait time.Duration) {
				if !errors.Is(err, errFlaky) || wait != tc.wantWaits[len(notified)] {
					t.Errorf("OnRetry(%d, %v, %s)", try, err, wait)
				}
				notified = append(notified, try)
			}
			tries := 0
			err := retry.Do(context.Background(), tc.policy, func(try int) error {
				tries++
				if try != tries {
					t.Fatalf("try %d, want %d", try, tries)
				}
				if tries <= tc.fails {
					return errFlaky
				}
				return tc.failWith
			})
			if tries != tc.wantTries || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("tries %d err %v; want %d, %v", tries, err, tc.wantTries, tc.wantErr)
			}
			if !slices.Equal(rec.waits, tc.wantWaits) {
				t.Fatalf("waits %v, want %v", rec.waits, tc.wantWaits)
			}
			if len(notified) != len(tc.wantWaits) {
				t.Fatalf("OnRetry called for tries %v, want one call per wait", notified)
			}
		})
	}
}

var errAuth = errors.New("authentication failed")

func TestDoPermanentMarkIsRemoved(t *testing.T) {
	inner := fmt.Errorf("login: %w", errAuth)
	err := retry.Do(context.Background(), retry.Policy{Tries: 3}, func(int) error { return retry.Permanent(inner) })
	if err != inner {
		t.Fatalf("err %#v, want the inner error itself", err)
	}
	if retry.Permanent(nil) != nil {
		t.Fatal("Permanent(nil) is not nil")
	}
}

func TestDoStopsWhenContextEnds(t *testing.T) {
	// Cancelled while waiting: ctx's error, with the last error kept.
	ctx, cancel := context.WithCancel(context.Background())
	tries := 0
	err := retry.Do(ctx, retry.Policy{First: time.Hour, Sleep: func(ctx context.Context, d time.Duration) error {
		cancel()
		return ctx.Err()
	}}, func(int) error { tries++; return errFlaky })
	if tries != 1 || !errors.Is(err, context.Canceled) || !errors.Is(err, errFlaky) {
		t.Fatalf("tries %d err %v", tries, err)
	}

	// Cancelled during a try that says so: that error, and no second try.
	ctx, cancel = context.WithCancel(context.Background())
	tries = 0
	err = retry.Do(ctx, retry.Policy{}, func(int) error {
		tries++
		cancel()
		return fmt.Errorf("get: %w", ctx.Err())
	})
	if tries != 1 || !errors.Is(err, context.Canceled) || err.Error() != "get: context canceled" {
		t.Fatalf("tries %d err %v", tries, err)
	}

	// The real timer honours ctx.
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if err := retry.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep: %v", err)
	}
}

func TestWaitJitter(t *testing.T) {
	p := retry.Policy{First: 500 * time.Millisecond, Max: 15 * time.Second, Jitter: true}
	for try := 1; try <= 10; try++ {
		hi := min(p.First<<(try-1), p.Max)
		for range 50 {
			if w := p.Wait(try); w < p.First/2 || w > hi {
				t.Fatalf("try %d: wait %s outside [%s, %s]", try, w, p.First/2, hi)
			}
		}
	}
}
