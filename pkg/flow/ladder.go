package flow

import (
	"fmt"
	"slices"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
	"github.com/cn2-appliance/cn2-appliance/pkg/bmc"
)

// Action is what a node needs next, as the ladder decides it.
type Action string

// Actions. The remedies (power on, reboot, boot from disk) climb the ladder: each one counts
// against the lab's remedyAttempts until the node makes progress again.
const (
	ActNone      Action = ""
	ActBoot      Action = "boot"            // first boot into the discovery image
	ActResume    Action = "resume"          // a boot was recorded but maybe not sent: boot device again, power on if off
	ActReadPower Action = "read-power"      // decide again once the node's power state is known
	ActPowerOn   Action = "power-on"        // remedy: the node is off
	ActReboot    Action = "reboot"          // remedy: boot device set again, power cycle into discovery
	ActBootDisk  Action = "boot-disk"       // remedy: boot from disk (profile, media out, boot device), power cycle
	ActDiskBoot  Action = "disk-from-now"   // the image is written: the node boots from disk from now on
	ActAttention Action = "needs-attention" // the ladder is exhausted: the operator must look
)

// isRemedy says whether an action climbs the ladder.
func (a Action) isRemedy() bool { return a == ActPowerOn || a == ActReboot || a == ActBootDisk }

// sendsPower says whether an action changes the node's power: it is recorded before it is sent.
func (a Action) sendsPower() bool { return a == ActBoot || a == ActResume || a.isRemedy() }

// Phase is which part of the install a node is in, from the flow's step.
type Phase string

// Phases.
const (
	PhaseDiscovery Phase = "discovery" // booting into the discovery image and registering
	PhaseInstall   Phase = "install"   // the installer writes the disk and reboots the node
)

// Host statuses and stages the ladder acts on.
const (
	hostPendingUserAction = "installing-pending-user-action"
	hostDisconnected      = "disconnected"
)

// installStages are a host's install stages in order, to compare a node with its peers.
var installStages = []string{
	ai.StageStartingInstallation, ai.StageInstalling, ai.StageWritingImage, ai.StageRebooting,
	ai.StageWaitingIgnition, ai.StageConfiguring, ai.StageJoined, ai.StageDone,
}

// diskWritten are the stages from which the node's disk holds the installed system.
var diskWritten = installStages[slices.Index(installStages, ai.StageRebooting):]

// rebootStages are those in which the node is expected to come back from its reboot.
var rebootStages = []string{ai.StageRebooting, ai.StageWaitingIgnition}

// situation is everything the ladder decides from, for one node at one poll.
type situation struct {
	phase Phase
	// registered is false while the installer has no host for the node.
	registered    bool
	status, stage string
	power         bmc.PowerState // "" when not read this poll
	rec           NodeRecord
	now           time.Time
	// peersAhead and peers count the other nodes in the install, and those at a later stage.
	peersAhead, peers int
}

// limits are the ladder's bounds, from the lab's assistedInstaller settings.
type limits struct {
	boot     time.Duration // a (re)boot must show progress within this
	settle   time.Duration // at least this long between two power actions on a node
	attempts int           // remedies before the node needs attention
}

// decision is the ladder's answer: the action and why, in words for the event log.
type decision struct {
	action Action
	reason string
}

// decide is the ladder: from one node's situation, what it needs next. It is pure; the
// reconciler reads the power state only when decide asks for it (ActReadPower).
func decide(s situation, l limits) decision {
	r := s.rec
	sinceAction := s.now.Sub(r.LastAction)
	if r.Pending != "" {
		if s.power == "" {
			return decision{ActReadPower, ""}
		}
		return decision{ActResume, fmt.Sprintf("the appliance stopped while sending %s; not sent again blindly", r.Pending)}
	}
	if r.Attention != "" {
		return decision{} // until the node makes progress again, or the lab changes
	}
	stalled := s.now.Sub(r.Progressed)
	if r.LastAction.After(r.Progressed) {
		stalled = sinceAction // a remedy restarts the clock
	}
	switch s.phase {
	case PhaseDiscovery:
		switch {
		case !s.registered && r.Boots == 0:
			if r.LastAction.IsZero() {
				return decision{ActBoot, "first boot into the discovery image"}
			}
			if sinceAction < l.settle {
				return decision{}
			}
			if r.Remedies >= l.attempts {
				return attention(fmt.Sprintf("cannot boot it: %s", r.LastError))
			}
			return decision{ActBoot, "boot into the discovery image, again after: " + r.LastError}
		case !s.registered && sinceAction >= l.boot:
			return remedy(s, l, fmt.Sprintf("not registered %s after its boot", round(sinceAction)), ActReboot)
		case s.status == hostDisconnected && stalled >= l.boot:
			return remedy(s, l, fmt.Sprintf("disconnected from the installer for %s", round(stalled)), ActReboot)
		}
	case PhaseInstall, PhaseDay2Install:
		if !s.registered {
			return decision{}
		}
		written := slices.Contains(diskWritten, s.stage) || (s.phase == PhaseDay2Install && s.stage == ai.StageWritingImage)
		switch {
		case s.status == hostPendingUserAction:
			if sinceAction < l.boot && r.LastAction.After(r.Progressed) {
				return decision{} // the disk boot sent is under way
			}
			return remedy(s, l, "booted the discovery image again after writing its disk", ActBootDisk)
		case written && !r.DiskBoot:
			return decision{ActDiskBoot, "image written: boots from disk from now on"}
		case s.status == hostDisconnected && stalled >= l.settle:
			if written {
				return remedy(s, l, fmt.Sprintf("disconnected from the installer for %s", round(stalled)), ActBootDisk)
			}
			if s.power == "" {
				return decision{ActReadPower, ""}
			}
			if s.power == bmc.PowerOff {
				return remedy(s, l, fmt.Sprintf("off and disconnected from the installer for %s", round(stalled)), ActPowerOn)
			}
			if stalled >= l.boot {
				return attention(fmt.Sprintf("disconnected from the installer for %s while installing (stage %q); a power cycle would break the install", round(stalled), s.stage))
			}
		case slices.Contains(rebootStages, s.stage):
			if s.power == "" {
				return decision{ActReadPower, ""}
			}
			if s.power == bmc.PowerOff && sinceAction >= l.settle {
				return remedy(s, l, "powered off instead of rebooting", ActPowerOn)
			}
			if stalled >= l.boot {
				return remedy(s, l, fmt.Sprintf("has not come back from its reboot in %s", round(stalled)), ActBootDisk)
			}
		case stalled >= l.boot && s.peers > 0 && 2*s.peersAhead >= s.peers:
			return attention(fmt.Sprintf("in stage %q for %s while %d of its %d peers moved on", s.stage, round(stalled), s.peersAhead, s.peers))
		}
	}
	return decision{}
}

// remedy climbs the ladder: power on if off, else the given reboot; once the lab's attempts
// are spent, the node needs attention instead.
func remedy(s situation, l limits, why string, reboot Action) decision {
	if s.now.Sub(s.rec.LastAction) < l.settle {
		return decision{}
	}
	if s.rec.Remedies >= l.attempts {
		return attention(fmt.Sprintf("%s; %d remedies did not help", why, s.rec.Remedies))
	}
	if s.power == "" {
		return decision{ActReadPower, ""}
	}
	if s.power == bmc.PowerOff {
		return decision{ActPowerOn, why + ": it is off, powering it on"}
	}
	switch reboot {
	case ActBootDisk:
		return decision{ActBootDisk, why + ": booting it from disk"}
	case ActPowerOn:
		return decision{} // on already: nothing to do
	}
	return decision{ActReboot, why + ": setting its boot device again and power cycling it"}
}

func attention(why string) decision {
	return decision{ActAttention, why}
}

func round(d time.Duration) time.Duration {
	if d > time.Minute {
		return d.Round(time.Second)
	}
	return d.Round(time.Millisecond)
}
