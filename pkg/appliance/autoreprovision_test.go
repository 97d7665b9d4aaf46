package appliance

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/aisim"
	"github.com/cn2-appliance/cn2-appliance/internal/labsim"
	"github.com/cn2-appliance/cn2-appliance/pkg/doctor"
	"github.com/cn2-appliance/cn2-appliance/pkg/flow"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
	"github.com/prometheus/client_golang/prometheus"
)

// TestAutomaticReprovision: with assistedInstaller.reprovisionOnChange, a reloaded lab that
// changes the cluster tears the finished install down and installs the new lab; without it
// (TestReloadMarksNeedsReprovision) the lab is only flagged.
func TestAutomaticReprovision(t *testing.T) {
	lab := exampleLab(t)
	sim, err := aisim.New(aisim.Options{TimeScale: 0.002, Auth: &aisim.Auth{OfflineTokens: []string{string(lab.AssistedInstaller.OfflineToken.Reveal())}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	defer srv.Close()
	defer sim.Close()
	lab.AssistedInstaller.URL, lab.AssistedInstaller.TokenURL = srv.URL, srv.URL+aisim.TokenPath
	power := map[string]flow.Power{}
	for _, n := range lab.Nodes {
		p := &labsim.Power{Control: srv.URL, Hostname: n.Name}
		for _, nic := range n.NICs {
			p.MACs = append(p.MACs, string(nic.MAC))
		}
		power[n.Name] = p
	}
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a, err := New(lab, st, prometheus.NewRegistry(), slog.New(slog.DiscardHandler), Options{Power: power, PollInterval: 10 * time.Millisecond,
		SkipPreflight: doctor.Names()}) // the example lab's fabrics are not here
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.runFlow(ctx) }()
	defer func() { cancel(); <-done }()

	installed := func(not string) string {
		t.Helper()
		for range 3000 { // a bound, not a timing assertion
			if f := a.Flow(); f.Current() == "" && f.State().ClusterID != not {
				return f.State().ClusterID
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("no install finished; steps %+v", a.Flow().Steps())
		return ""
	}
	first := installed("")

	next := *lab
	next.Cluster.APIVIP = netip.MustParseAddr("172.16.0.102")
	next.AssistedInstaller.ReprovisionOnChange = true
	if err := a.Reload(&next); err != nil {
		t.Fatal(err)
	}
	second := installed(first)
	if c, i, h := sim.Counts(); c != 1 || i != 1 || h != 5 {
		t.Errorf("after the automatic reprovision the installer holds %d clusters, %d infra envs, %d hosts", c, i, h)
	}
	obs := a.Flow().Observed()
	if obs.Cluster == nil || obs.Cluster.ID != second || obs.Cluster.Status != "installed" || len(obs.Cluster.APIVIPs) != 1 || obs.Cluster.APIVIPs[0].IP != "172.16.0.102" {
		t.Errorf("second cluster: %+v", obs.Cluster)
	}
	if a.Snapshot().Lab.NeedsReprovision {
		t.Error("the lab is still flagged after the automatic reprovision")
	}
}
