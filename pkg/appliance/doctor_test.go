package appliance

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/doctor"
	"github.com/cn2-appliance/cn2-appliance/pkg/flow"
	"github.com/cn2-appliance/cn2-appliance/pkg/status"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestPreflightRecordsItsReport: the preflight's report reaches the status snapshot, the
// metrics and the store (so a restarted appliance still shows it), and its error is the flow's
// reason to stop. Only the pull-secret check runs here: the others need the lab's fabrics
// (they are tested in namespaces by cmd/cn2-appliance's doctor tests).
func TestPreflightRecordsItsReport(t *testing.T) {
	lab := exampleLab(t)
	var skip []string
	for _, n := range doctor.Names() {
		if n != "pull-secret" {
			skip = append(skip, n)
		}
	}
	broken := *lab
	broken.Cluster.PullSecret = config.NewSecret([]byte(`{"auths":{"quay.io":{"auth":"bm8tY29sb24="}}}`)) // "no-colon"
	dir := t.TempDir()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	a, err := New(&broken, st, reg, slog.New(slog.DiscardHandler), Options{Power: map[string]flow.Power{}, SkipPreflight: skip})
	if err != nil {
		t.Fatal(err)
	}
	if s := a.Snapshot(); s.Doctor != nil {
		t.Errorf("a report before the first preflight: %+v", s.Doctor)
	}
	err = a.preflight(context.Background())
	if err == nil || !strings.Contains(err.Error(), "pull-secret") || !strings.Contains(err.Error(), "registry.redhat.io") {
		t.Fatalf("preflight = %v, want the pull-secret errors", err)
	}
	if strings.Contains(err.Error(), "bm8tY29sb24=") {
		t.Error("the preflight's reason carries the pull secret")
	}
	s := a.Snapshot()
	if s.Doctor == nil || !s.Doctor.Failed || !slices.ContainsFunc(s.Doctor.Results, func(r status.DoctorResult) bool {
		return r.Check == "pull-secret" && r.Status == "error" && r.Fix != ""
	}) {
		t.Errorf("snapshot doctor = %+v", s.Doctor)
	}
	metrics := `
# HELP cn2_appliance_doctor_check_ok 1 if the check found no error at the last preflight (warnings and skips count as ok), else 0.
# TYPE cn2_appliance_doctor_check_ok gauge
`
	for _, n := range doctor.Names() {
		v := "1"
		if n == "pull-secret" {
			v = "0"
		}
		metrics += `cn2_appliance_doctor_check_ok{check="` + n + `"} ` + v + "\n"
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(metrics), "cn2_appliance_doctor_check_ok"); err != nil {
		t.Error(err)
	}
	st.Close()

	// Restarted with the lab fixed: the old report shows until the preflight runs again.
	st, err = store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a, err = New(lab, st, prometheus.NewRegistry(), slog.New(slog.DiscardHandler), Options{Power: map[string]flow.Power{}, SkipPreflight: skip})
	if err != nil {
		t.Fatal(err)
	}
	if s := a.Snapshot(); s.Doctor == nil || !s.Doctor.Failed {
		t.Errorf("after a restart the last report is gone: %+v", s.Doctor)
	}
	if err := a.preflight(context.Background()); err != nil {
		t.Fatalf("preflight with the example pull secret: %v", err)
	}
	if s := a.Snapshot(); s.Doctor == nil || s.Doctor.Failed {
		t.Errorf("snapshot after the fix = %+v", s.Doctor)
	}
}

func TestNewRefusesAnUnknownSkip(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, err = New(exampleLab(t), st, nil, slog.New(slog.DiscardHandler), Options{Power: map[string]flow.Power{}, SkipPreflight: []string{"dsn"}})
	if err == nil || !strings.Contains(err.Error(), `no check named "dsn"`) {
		t.Errorf("New with --skip-preflight dsn = %v", err)
	}
}
