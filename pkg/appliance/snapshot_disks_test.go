package appliance

import (
	"testing"

	"github.com/cn2-appliance/cn2-appliance/pkg/status"
)

// TestNodeFacts: a node's failing validations that a lab key fixes are copied to its row;
// other nodes' and unexplained ones are not.
func TestNodeFacts(t *testing.T) {
	s := status.Snapshot{Validations: []status.Validation{
		{Scope: "worker-0", ID: "has-min-valid-disks", Fix: "nodes[].installDisk"},
		{Scope: "worker-0", ID: "some-other-check"},
		{Scope: "master-0", ID: "has-memory-for-role", Fix: "nodes[].role"},
	}}
	node := status.Node{Name: "worker-0"}
	nodeFacts(&s, &node, nil)
	if len(node.Failing) != 1 || node.Failing[0].ID != "has-min-valid-disks" || node.NeedsAttention != "" {
		t.Errorf("node %+v", node)
	}
}
