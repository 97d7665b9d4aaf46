package appliance

import (
	"github.com/cn2-appliance/cn2-appliance/pkg/flow"
	"github.com/cn2-appliance/cn2-appliance/pkg/status"
)

// nodeFacts adds to a node's view what a lab key fixes: its failing installer validations that
// have one, and an install disk that matches none of its disks.
func nodeFacts(s *status.Snapshot, node *status.Node, f *flow.Flow) {
	for _, v := range s.Validations {
		if v.Scope == node.Name && v.Fix != "" {
			node.Failing = append(node.Failing, v)
		}
	}
	if f == nil || node.NeedsAttention != "" {
		return
	}
	node.NeedsAttention = f.DiskProblems()[node.Name]
}
