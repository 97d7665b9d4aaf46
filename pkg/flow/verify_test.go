package flow_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/aisim"
	"github.com/cn2-appliance/cn2-appliance/pkg/flow"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
)

// TestVerifyStepRunsTheClusterCheckAfterTheInstallerSaysInstalled: the verify step calls
// Deps.VerifyCluster once the cluster is installed and the kubeconfig is written, records its
// summary as an event, and stops the flow (permanently: it already polled to its timeout)
// when it says the cluster is not right.
func TestVerifyStepRunsTheClusterCheckAfterTheInstallerSaysInstalled(t *testing.T) {
	for _, tc := range []struct {
		name    string
		result  error
		wantErr bool
		event   string
	}{
		{"passes", nil, false, "cluster verified: 5 nodes"},
		{"not right at the timeout", errors.New("verify: after 30m, 1 still not right: node worker-1: NotReady"), true, "node worker-1: NotReady"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lab := exampleLab(t)
			_, url := newSim(t, aisim.Options{})
			out := t.TempDir()
			calls := 0
			var kubeconfigSeen bool
			f, st := newFlowDeps(t, lab, url, t.TempDir(), out, &fakeBoot{}, slog.New(slog.DiscardHandler), nil, func(d *flow.Deps) {
				d.VerifyCluster = func(ctx context.Context) (string, error) {
					calls++
					_, err := os.Stat(filepath.Join(out, "kubeconfig"))
					kubeconfigSeen = err == nil
					if tc.result != nil {
						return "", tc.result
					}
					return "cluster verified: 5 nodes, 30 cluster operators, 90/90 pods Running or Succeeded (9 CN2)", nil
				}
			})
			defer st.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			err := f.Run(ctx)
			if (err != nil) != tc.wantErr || (err != nil && !errors.Is(err, flow.ErrStopped)) {
				t.Fatalf("flow: %v", err)
			}
			if calls != 1 || !kubeconfigSeen {
				t.Errorf("VerifyCluster called %d times, kubeconfig there: %v", calls, kubeconfigSeen)
			}
			steps := f.Steps()
			last := steps[slices.IndexFunc(steps, func(s flow.StepRecord) bool { return s.Name == "verify" })]
			if want := map[bool]string{false: flow.StateDone, true: flow.StateFailed}[tc.wantErr]; last.State != want {
				t.Errorf("verify step %+v, want %s", last, want)
			}
			if !eventSays(t, st, tc.event) {
				t.Errorf("no event says %q", tc.event)
			}
		})
	}
}

func eventSays(t *testing.T, st *store.Store, text string) bool {
	t.Helper()
	events, err := st.Events(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if strings.Contains(e.Message, text) {
			return true
		}
	}
	return false
}
