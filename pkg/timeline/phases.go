package timeline

import (
	"strings"
	"time"
)

// Phase is where a node is on its way to installed, as a timeline's bars show it.
type Phase string

// Phases, in the order a node goes through them.
const (
	PhaseBooting     Phase = "booting"     // powered on into the discovery image: DHCP, TFTP, HTTP boot
	PhaseDiscovering Phase = "discovering" // registered at the installer, validations not all passing
	PhaseReady       Phase = "ready"       // known to the installer, waiting for the install
	PhaseInstalling  Phase = "installing"  // installing; Bar.Stage says which stage
	PhaseRebooting   Phase = "rebooting"   // rebooting into the written disk
	PhaseDone        Phase = "done"        // installed
	PhaseError       Phase = "error"       // the installer says the host failed
)

// Bar is one phase of a node, from Start to End (End is now for the current phase).
type Bar struct {
	Phase Phase     `json:"phase"`
	Stage string    `json:"stage,omitempty"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Mark is a moment a timeline draws as a marker: a remedy or a stall (KindRemedy,
// KindAttention), a failed power action (KindPower), the switch to disk boot (KindDiskBoot).
type Mark struct {
	Time   time.Time `json:"time"`
	Kind   Kind      `json:"kind"`
	Detail string    `json:"detail"`
}

// Phases turns a node's timeline (oldest first) into its phases' bars, in order and not
// overlapping, and its marks. The last bar ends at now.
func Phases(entries []Entry, now time.Time) ([]Bar, []Mark) {
	var bars []Bar
	var marks []Mark
	enter := func(t time.Time, p Phase, stage string) {
		if n := len(bars); n > 0 {
			last := &bars[n-1]
			if last.Phase == p && last.Stage == stage {
				return
			}
			if t.Before(last.Start) {
				t = last.Start
			}
			last.End = t
		}
		bars = append(bars, Bar{Phase: p, Stage: stage, Start: t})
	}
	current := func() Phase {
		if len(bars) == 0 {
			return ""
		}
		return bars[len(bars)-1].Phase
	}
	for _, e := range entries {
		switch e.Kind {
		case KindDHCP, KindTFTP, KindScript, KindFile, KindISO:
			if current() == "" {
				enter(e.Time, PhaseBooting, "")
			}
		case KindPower:
			if e.Err != "" {
				marks = append(marks, Mark{e.Time, e.Kind, e.Detail + ": " + e.Err})
				continue
			}
			switch e.Detail {
			case "boot", "reboot", "resume":
				if p := current(); p != PhaseDone && p != PhaseInstalling && p != PhaseRebooting {
					enter(e.Time, PhaseBooting, "")
				}
			case "boot-disk":
				enter(e.Time, PhaseRebooting, "")
			}
		case KindRemedy, KindAttention, KindDiskBoot:
			marks = append(marks, Mark{e.Time, e.Kind, e.Detail})
		case KindHost:
			p, stage := hostPhase(e.Detail)
			if p != "" {
				enter(e.Time, p, stage)
			}
		}
	}
	if n := len(bars); n > 0 {
		bars[n-1].End = now
		if now.Before(bars[n-1].Start) {
			bars[n-1].End = bars[n-1].Start
		}
	}
	return bars, marks
}

// hostPhase maps an installer host's "status" or "status/stage" to a phase and stage.
func hostPhase(detail string) (Phase, string) {
	status, stage, _ := strings.Cut(detail, "/")
	switch status {
	case "discovering", "pending-for-input", "insufficient", "disconnected", "binding", "known-unbound", "insufficient-unbound", "discovering-unbound", "disconnected-unbound":
		return PhaseDiscovering, ""
	case "known", "preparing-for-installation", "preparing-successful", "preparing-failed":
		return PhaseReady, ""
	case "installing", "installing-in-progress", "installing-pending-user-action", "resetting-pending-user-action":
		if stage == "Rebooting" {
			return PhaseRebooting, stage
		}
		return PhaseInstalling, stage
	case "installed", "added-to-existing-cluster":
		return PhaseDone, ""
	case "error", "cancelled":
		return PhaseError, ""
	}
	return "", ""
}

// Installed is when the node's timeline first reached done; zero if it has not.
func Installed(bars []Bar) time.Time {
	for _, b := range bars {
		if b.Phase == PhaseDone {
			return b.Start
		}
	}
	return time.Time{}
}
