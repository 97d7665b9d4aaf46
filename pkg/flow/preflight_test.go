package flow_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/aisim"
	"github.com/cn2-appliance/cn2-appliance/internal/labsim"
	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/flow"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
)

// TestPreflightBlocksUntilFixed: a preflight error stops the flow in its first step, with the
// reason, before anything is registered or powered; once the lab is fixed the next run passes
// the preflight and installs. The flow does not care what the checks are: a fake Preflight
// stands in for the doctor.
func TestPreflightBlocksUntilFixed(t *testing.T) {
	lab := exampleLab(t)
	sim, url := newSim(t, aisim.Options{})
	var broken atomic.Bool
	broken.Store(true)
	var calls atomic.Int32
	preflight := func(ctx context.Context) error {
		calls.Add(1)
		if broken.Load() {
			return errors.New("preflight: 1 error(s): address-conflicts 172.16.0.100 on ctrl: 172.16.0.100 (API VIP) is already in use")
		}
		return nil
	}
	state := t.TempDir()

	f, st := preflightFlow(t, lab, url, state, preflight)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	err := f.Run(ctx)
	if !errors.Is(err, flow.ErrStopped) || !strings.Contains(err.Error(), "API VIP") {
		t.Fatalf("Run = %v, want a stop naming the preflight's reason", err)
	}
	steps := f.Steps()
	if steps[0].Name != "preflight" || steps[0].State != flow.StateFailed || !strings.Contains(steps[0].LastError, "172.16.0.100") {
		t.Errorf("preflight step = %+v", steps[0])
	}
	for _, s := range steps[1:] {
		if s.State != flow.StatePending {
			t.Errorf("step %s is %s after a failed preflight", s.Name, s.State)
		}
	}
	if c, i, h := sim.Counts(); c != 0 || i != 0 || h != 0 {
		t.Errorf("the installer holds %d clusters, %d infra envs, %d hosts after a failed preflight", c, i, h)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("preflight ran %d times; a permanent error is not retried", n)
	}
	st.Close()

	// The lab is fixed; the appliance builds the flow again (as a reload does) and runs it.
	broken.Store(false)
	f, st = preflightFlow(t, lab, url, state, preflight)
	defer st.Close()
	runToEnd(t, f)
	assertInstalledOnce(t, sim, f)
	if s := f.Steps()[0]; s.Attempts != 2 || s.LastError != "" {
		t.Errorf("preflight step after the fix = %+v", s)
	}
}

// preflightFlow is newFlow with a Preflight.
func preflightFlow(t *testing.T, lab *config.Lab, url, stateDir string, preflight func(context.Context) error) (*flow.Flow, *store.Store) {
	t.Helper()
	st, err := store.Open(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	client, err := ai.New(ai.Config{URL: url, BackoffBase: time.Millisecond, BackoffMax: 10 * time.Millisecond, HTTPClient: &http.Client{},
		OfflineToken: string(lab.AssistedInstaller.OfflineToken.Reveal()), TokenURL: url + aisim.TokenPath})
	if err != nil {
		t.Fatal(err)
	}
	power := map[string]flow.Power{}
	for _, n := range lab.Nodes {
		p := &labsim.Power{Control: url, Hostname: n.Name}
		for _, nic := range n.NICs {
			p.MACs = append(p.MACs, string(nic.MAC))
		}
		power[n.Name] = p
	}
	f, err := flow.New(flow.Deps{Lab: lab, AI: client, Power: power, Boot: &fakeBoot{}, Store: st, Log: slog.New(slog.DiscardHandler),
		OutputDir: t.TempDir(), PollInterval: 10 * time.Millisecond, RetryDelay: 5 * time.Millisecond, Preflight: preflight})
	if err != nil {
		t.Fatal(err)
	}
	return f, st
}
