package verify

import (
	"context"
	"fmt"
	"time"
)

// PollOptions bound a verification.
type PollOptions struct {
	// Timeout is how long the cluster has to become right (the lab's verify timeout).
	Timeout time.Duration
	// Interval is the wait between checks (default 15s).
	Interval time.Duration
	// OnReport, when set, is called with every check's report (the status page's view).
	OnReport func(Report)
}

// NotRightError is a verification that timed out; Report is the last check's.
type NotRightError struct {
	After  time.Duration
	Report Report
}

func (e *NotRightError) Error() string {
	return fmt.Sprintf("verify: after %s, %d still not right: %s", e.After, len(e.Report.Problems), firstProblems(e.Report.Problems, 5))
}

// Poll checks the cluster until it is right, the timeout passes (a *NotRightError with the
// last report) or ctx ends (ctx's error).
func Poll(ctx context.Context, c Clients, e Expect, o PollOptions) (Report, error) {
	if o.Interval <= 0 {
		o.Interval = 15 * time.Second
	}
	deadline := time.Now().Add(o.Timeout)
	for {
		r := Check(ctx, c, e)
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
		if o.OnReport != nil {
			o.OnReport(r)
		}
		if r.OK() {
			return r, nil
		}
		if !time.Now().Before(deadline) {
			return r, &NotRightError{After: o.Timeout, Report: r}
		}
		wait := min(o.Interval, time.Until(deadline))
		select {
		case <-ctx.Done():
			return r, ctx.Err()
		case <-time.After(wait):
		}
	}
}
