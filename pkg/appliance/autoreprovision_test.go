package appliance

import (
	"net/netip"
	"testing"
	"time"
)

// TestAutomaticReprovision: with assistedInstaller.reprovisionOnChange, a reloaded lab that
// changes the cluster tears the finished install down and installs the new lab; without it
// (TestReloadMarksNeedsReprovision) the lab is only flagged.
func TestAutomaticReprovision(t *testing.T) {
	lab, sim, a, start := simLab(t, "FAKE-EXAMPLE-OFFLINE-TOKEN-not-a-real-token")
	start()

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
