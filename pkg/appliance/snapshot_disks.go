package appliance

import (
	"context"
	"fmt"

	"github.com/cn2-appliance/cn2-appliance/pkg/bmc"
	"github.com/cn2-appliance/cn2-appliance/pkg/doctor"
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

// hardwareEnv lets the doctor's hardware check read each node's BMC (the drivers the flow
// drives, when they can describe the machine) and the installer's requirements.
func (a *Appliance) hardwareEnv(env *doctor.Env) {
	power := a.powerDrivers()
	env.NodeHardware = func(ctx context.Context, node string) (bmc.Hardware, error) {
		r, ok := power[node].(bmc.HardwareReader)
		if !ok {
			return bmc.Hardware{}, fmt.Errorf("node %s: %w", node, bmc.ErrNotSupported)
		}
		return r.Hardware(ctx)
	}
	if f := a.Flow(); f != nil {
		env.Requirements = f.PreflightRequirements
	}
}
