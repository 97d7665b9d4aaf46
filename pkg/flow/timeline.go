package flow

import (
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
	"github.com/cn2-appliance/cn2-appliance/pkg/timeline"
)

// The flow's milestones for the nodes' timelines (Deps.Timeline): the installer's host status
// and stage, each validation that changed, power actions and their results, remedies, stalls
// and the switch to disk boot. The timeline keeps a state only when it changes, so these are
// reported on every poll.

func (f *Flow) timeline() timeline.Recorder {
	if f.d.Timeline == nil {
		return timeline.Discard
	}
	return f.d.Timeline
}

// markHost reports a node's host status as the installer shows it ("status" or "status/stage").
func (f *Flow) markHost(node string, h *ai.Host) {
	if key := progressKey(h); key != "" {
		f.timeline().Record(timeline.Milestone{Node: node, Kind: timeline.KindHost, Detail: key})
	}
}

// markValidations reports a host's validations; those that changed are kept.
func (f *Flow) markValidations(node string, v ai.Validations) {
	for _, list := range v {
		for _, x := range list {
			f.timeline().Record(timeline.Milestone{Node: node, Kind: timeline.KindValidation, Subject: x.ID, Detail: x.Status})
		}
	}
}

// markAction reports an action the ladder sent, and its outcome; a remedy is also a stall found,
// and a BMC's permanent refusal a stall the ladder cannot remedy.
func (f *Flow) markAction(p planned, at time.Time) {
	m := timeline.Milestone{Time: at, Node: p.node.Name, Kind: timeline.KindPower, Detail: string(p.action)}
	if p.err != nil {
		m.Err = p.err.Error()
	}
	switch {
	case p.action == ActDiskBoot:
		m.Kind, m.Detail = timeline.KindDiskBoot, p.reason
	case p.action.isRemedy() || p.action == ActResume:
		f.timeline().Record(timeline.Milestone{Time: at, Node: p.node.Name, Kind: timeline.KindRemedy, Detail: string(p.action) + ": " + p.reason})
	}
	f.timeline().Record(m)
	if p.err != nil && permanentBMC(p.err) {
		f.markAttention(p.node.Name, "its BMC refuses: "+p.err.Error())
	}
}

// markAttention reports that the ladder gave up on a node.
func (f *Flow) markAttention(node, why string) {
	f.timeline().Record(timeline.Milestone{Node: node, Kind: timeline.KindAttention, Detail: why})
}
