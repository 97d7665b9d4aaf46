package flow

import (
	"fmt"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
	"github.com/cn2-appliance/cn2-appliance/pkg/bmc"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
)

// TestLadder is the ladder's table: host state × power state × age → action.
func TestLadder(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	lim := limits{boot: 10 * time.Minute, settle: 30 * time.Second, attempts: 3}
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	booted := func(d time.Duration) NodeRecord { return NodeRecord{Boots: 1, LastAction: ago(d)} }
	progressed := func(d time.Duration) NodeRecord {
		return NodeRecord{Boots: 1, LastAction: ago(time.Hour), Progressed: ago(d)}
	}
	withRemedies := func(r NodeRecord, n int) NodeRecord { r.Remedies = n; return r }
	diskBoot := func(r NodeRecord) NodeRecord { r.DiskBoot = true; return r }
	installing := func(stage string) situation {
		return situation{phase: PhaseInstall, registered: true, status: "installing-in-progress", stage: stage}
	}
	cases := []struct {
		name  string
		s     situation
		power bmc.PowerState
		want  Action
	}{
		// Discovery: boot, wait, then the ladder.
		{"never booted", situation{phase: PhaseDiscovery}, "", ActBoot},
		{"booted, waiting", situation{phase: PhaseDiscovery, rec: booted(5 * time.Minute)}, "", ActNone},
		{"hung in firmware: read power first", situation{phase: PhaseDiscovery, rec: booted(11 * time.Minute)}, "", ActReadPower},
		{"hung in firmware, on: reboot", situation{phase: PhaseDiscovery, rec: booted(11 * time.Minute)}, bmc.PowerOn, ActReboot},
		{"hung, power unknown: reboot", situation{phase: PhaseDiscovery, rec: booted(11 * time.Minute)}, bmc.PowerUnknown, ActReboot},
		{"off before registering: power on", situation{phase: PhaseDiscovery, rec: booted(11 * time.Minute)}, bmc.PowerOff, ActPowerOn},
		{"ladder exhausted", situation{phase: PhaseDiscovery, rec: withRemedies(booted(11*time.Minute), 3)}, bmc.PowerOn, ActAttention},
		{"needs attention stays", situation{phase: PhaseDiscovery, rec: NodeRecord{Boots: 1, LastAction: ago(time.Hour), Attention: "x"}}, bmc.PowerOn, ActNone},
		{"registered: nothing", situation{phase: PhaseDiscovery, registered: true, status: "known", rec: progressed(time.Hour)}, "", ActNone},
		{"disconnected long: reboot", situation{phase: PhaseDiscovery, registered: true, status: "disconnected", rec: progressed(11 * time.Minute)}, bmc.PowerOn, ActReboot},
		{"disconnected briefly: wait", situation{phase: PhaseDiscovery, registered: true, status: "disconnected", rec: progressed(time.Minute)}, bmc.PowerOn, ActNone},
		{"boot failed: retry after settle", situation{phase: PhaseDiscovery, rec: NodeRecord{LastAction: ago(time.Minute), Remedies: 1, LastError: "x"}}, "", ActBoot},
		{"boot failed: not before settle", situation{phase: PhaseDiscovery, rec: NodeRecord{LastAction: ago(time.Second), Remedies: 1}}, "", ActNone},
		{"boot keeps failing", situation{phase: PhaseDiscovery, rec: NodeRecord{LastAction: ago(time.Minute), Remedies: 3}}, "", ActAttention},
		// A crash between recording a power action and knowing it was sent.
		{"pending: read power", situation{phase: PhaseDiscovery, rec: NodeRecord{Boots: 1, LastAction: ago(time.Second), Pending: "boot"}}, "", ActReadPower},
		{"pending: resume", situation{phase: PhaseDiscovery, rec: NodeRecord{Boots: 1, LastAction: ago(time.Second), Pending: "boot"}}, bmc.PowerOff, ActResume},
		// Install.
		{"writing image: nothing", installing(ai.StageWritingImage), "", ActNone},
		{"image written: disk from now on", installing(ai.StageRebooting), "", ActDiskBoot},
		// A day-2 worker: its host reports no stage after Rebooting, so the disk boot is set
		// while its image is written.
		{"day-2, writing image: disk from now on", func() situation {
			s := installing(ai.StageWritingImage)
			s.phase = PhaseDay2Install
			return s
		}(), "", ActDiskBoot},
		{"day-2, added: disk from now on", situation{phase: PhaseDay2Install, registered: true, status: ai.HostAddedToExistingCluster, stage: ai.StageDone}, "", ActDiskBoot},
		{"day-2, added, booting from disk: nothing", situation{phase: PhaseDay2Install, registered: true, status: ai.HostAddedToExistingCluster, stage: ai.StageDone,
			rec: diskBoot(progressed(time.Hour))}, "", ActNone},
		{"rebooting: read power", func() situation {
			s := installing(ai.StageRebooting)
			s.rec = diskBoot(progressed(time.Minute))
			return s
		}(), "", ActReadPower},
		{"rebooting, on: wait", func() situation {
			s := installing(ai.StageRebooting)
			s.rec = diskBoot(progressed(time.Minute))
			return s
		}(), bmc.PowerOn, ActNone},
		{"powered off instead of rebooting", func() situation {
			s := installing(ai.StageRebooting)
			s.rec = diskBoot(progressed(time.Minute))
			return s
		}(), bmc.PowerOff, ActPowerOn},
		{"never came back from reboot", func() situation {
			s := installing(ai.StageRebooting)
			s.rec = diskBoot(progressed(11 * time.Minute))
			return s
		}(), bmc.PowerOn, ActBootDisk},
		{"booted discovery after write", func() situation {
			s := installing(ai.StageRebooting)
			s.status, s.rec = hostPendingUserAction, diskBoot(progressed(time.Minute))
			return s
		}(), bmc.PowerOn, ActBootDisk},
		{"disk boot under way", func() situation {
			s := installing(ai.StageRebooting)
			r := diskBoot(progressed(5 * time.Minute))
			r.LastAction = ago(time.Minute)
			s.status, s.rec = hostPendingUserAction, r
			return s
		}(), bmc.PowerOn, ActNone},
		{"disconnected after write: disk boot", func() situation {
			s := installing(ai.StageConfiguring)
			s.status, s.rec = hostDisconnected, diskBoot(progressed(time.Minute))
			return s
		}(), bmc.PowerOn, ActBootDisk},
		{"disconnected while writing, off: power on", func() situation {
			s := installing(ai.StageWritingImage)
			s.status, s.rec = hostDisconnected, progressed(time.Minute)
			return s
		}(), bmc.PowerOff, ActPowerOn},
		{"disconnected while writing, on: attention, no cycle", func() situation {
			s := installing(ai.StageWritingImage)
			s.status, s.rec = hostDisconnected, progressed(11*time.Minute)
			return s
		}(), bmc.PowerOn, ActAttention},
		{"stuck in a stage while peers moved on", func() situation {
			s := installing(ai.StageInstalling)
			s.rec, s.peers, s.peersAhead = progressed(11*time.Minute), 4, 4
			return s
		}(), "", ActAttention},
		{"slow like its peers: nothing", func() situation {
			s := installing(ai.StageInstalling)
			s.rec, s.peers, s.peersAhead = progressed(11*time.Minute), 4, 1
			return s
		}(), "", ActNone},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := c.s
			s.now, s.power = now, c.power
			if got := decide(s, lim); got.action != c.want {
				t.Errorf("decide = %q (%s), want %q", got.action, got.reason, c.want)
			}
		})
	}
}

// TestLadderSettles: two power actions on one node are at least the settle time apart.
func TestLadderSettles(t *testing.T) {
	now := time.Now()
	lim := limits{boot: time.Minute, settle: 30 * time.Second, attempts: 3}
	s := situation{phase: PhaseInstall, registered: true, status: "installing-in-progress", stage: ai.StageRebooting, power: bmc.PowerOff, now: now,
		rec: NodeRecord{DiskBoot: true, Progressed: now.Add(-time.Hour), LastAction: now.Add(-10 * time.Second), Remedies: 1}}
	if got := decide(s, lim); got.action != ActNone {
		t.Errorf("10s after a power-on: %q, want nothing yet", got.action)
	}
	s.rec.LastAction = now.Add(-time.Minute)
	if got := decide(s, lim); got.action != ActPowerOn {
		t.Errorf("a minute after a power-on: %q, want power-on", got.action)
	}
}

// TestSituationsCountPeers: in the install, each node knows how many peers are in the install
// and how many are at a later stage.
func TestSituationsCountPeers(t *testing.T) {
	stages := []string{ai.StageInstalling, ai.StageInstalling, ai.StageRebooting, ai.StageDone, ""}
	var nodes []config.Node
	ix := hostIndex{}
	for i, st := range stages {
		mac := fmt.Sprintf("52:54:00:00:00:%02x", i)
		nodes = append(nodes, config.Node{Name: fmt.Sprint("n", i), NICs: []config.NIC{{MAC: config.MAC(mac)}}})
		if st != "" {
			ix[mac] = &ai.Host{Status: "installing-in-progress", Progress: &ai.HostProgress{CurrentStage: st}}
		}
	}
	sits := (&Flow{}).situations(PhaseInstall, nodes, ix, map[string]NodeRecord{}, time.Now())
	want := []struct{ peers, ahead int }{{3, 2}, {3, 2}, {3, 1}, {3, 0}, {0, 0}}
	for i, w := range want {
		if sits[i].peers != w.peers || sits[i].peersAhead != w.ahead {
			t.Errorf("%s: %d peers, %d ahead; want %d, %d", nodes[i].Name, sits[i].peers, sits[i].peersAhead, w.peers, w.ahead)
		}
	}
}
