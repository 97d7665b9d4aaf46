package doctor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
	"github.com/cn2-appliance/cn2-appliance/pkg/bmc"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
)

// hardwareCheck compares each node's CPUs, memory and disks, as its BMC describes them, with
// the installer's minimums for its role, before anything boots: the installer would hold the
// host later on has-cpu-cores-for-role, has-memory-for-role or has-min-valid-disks.
var hardwareCheck = Check{
	Name:    "hardware",
	Needs:   "each node's BMC (Redfish, libvirt; IPMI cannot describe the hardware)",
	Timeout: 60 * time.Second,
	Run:     checkHardware,
}

// Default minimums, the installer's own defaults, used when it offers no requirements.
var (
	DefaultControlPlaneRequirements = ai.HostRequirements{CPUCores: 4, RAMMiB: 16384, DiskSizeGB: 100}
	DefaultWorkerRequirements       = ai.HostRequirements{CPUCores: 2, RAMMiB: 8192, DiskSizeGB: 100}
	DefaultSingleNodeRequirements   = ai.HostRequirements{CPUCores: 8, RAMMiB: 16384, DiskSizeGB: 100}
)

// memoryToleranceMiB is the installer's allowance below the required memory.
const memoryToleranceMiB = 100

func checkHardware(ctx context.Context, env *Env) []Result {
	if env.NodeHardware == nil {
		return []Result{skipped("nodes", "no BMC access here (run by the appliance, the check reads each node's BMC)")}
	}
	reqs, from := requirementsFor(ctx, env)
	var out []Result
	for _, n := range env.Lab.Nodes {
		out = append(out, nodeHardware(ctx, env, n, reqs, from))
	}
	return out
}

// roleRequirements are the minimums by lab role, and where they came from.
type roleRequirements struct{ controlPlane, worker ai.HostRequirements }

func requirementsFor(ctx context.Context, env *Env) (roleRequirements, string) {
	single := singleNode(env.Lab)
	def := roleRequirements{DefaultControlPlaneRequirements, DefaultWorkerRequirements}
	if single {
		def.controlPlane = DefaultSingleNodeRequirements
	}
	if env.Requirements == nil {
		return def, "the installer's defaults"
	}
	r, err := env.Requirements(ctx)
	if err != nil || r == nil || r.OCP.Master.Quantitative.CPUCores == 0 {
		return def, "the installer's defaults"
	}
	return roleRequirements{r.OCP.Master.Quantitative, r.OCP.Worker.Quantitative}, "the installer's preflight requirements"
}

func singleNode(l *config.Lab) bool {
	return len(l.Nodes) == 1 && l.Nodes[0].Role == config.RoleControlPlane
}

func nodeHardware(ctx context.Context, env *Env, n config.Node, reqs roleRequirements, from string) Result {
	req, role := reqs.worker, "worker"
	if n.Role == config.RoleControlPlane {
		req, role = reqs.controlPlane, "control-plane node"
		if singleNode(env.Lab) {
			role = "single node"
		}
	}
	hw, err := env.NodeHardware(ctx, n.Name)
	switch {
	case errors.Is(err, bmc.ErrNotSupported):
		return skipped(n.Name, fmt.Sprintf("its %s BMC does not describe the hardware; the installer checks it once the node is discovered", n.BMC.Driver))
	case err != nil:
		return warning(n.Name, "check the node's BMC (cn2-appliance power "+n.Name+" probe)", "could not read the hardware from its BMC: %v", err)
	}
	var short []string
	if hw.CPUs > 0 && hw.CPUs < req.CPUCores {
		short = append(short, fmt.Sprintf("%d CPUs, a %s needs %d", hw.CPUs, role, req.CPUCores))
	}
	if hw.MemoryBytes > 0 && hw.MemoryBytes < (req.RAMMiB-memoryToleranceMiB)<<20 {
		short = append(short, fmt.Sprintf("%s of memory, a %s needs %s", gibs(hw.MemoryBytes), role, gibs(req.RAMMiB<<20)))
	}
	minDisk := req.DiskSizeGB * 1e9
	if d := n.InstallDisk; d != nil && d.Rule != "" && int64(d.MinSizeGB)*1e9 > minDisk {
		minDisk = int64(d.MinSizeGB) * 1e9
	}
	fits, known := 0, 0
	var disks []string
	for _, d := range hw.Disks {
		if d.Removable {
			continue
		}
		disks = append(disks, fmt.Sprintf("%s %s", d.Name, ai.HumanBytes(d.SizeBytes)))
		if d.SizeBytes > 0 {
			known++
			if d.SizeBytes >= minDisk {
				fits++
			}
		}
	}
	if known > 0 && fits == 0 {
		short = append(short, fmt.Sprintf("no disk of %s or more (%s)", ai.HumanBytes(minDisk), strings.Join(disks, ", ")))
	}
	seen := fmt.Sprintf("%d CPUs, %s, disks: %s (from %s)", hw.CPUs, gibs(hw.MemoryBytes), orNone(disks), hw.Source)
	if len(short) > 0 {
		return failure(n.Name, "give the machine what it lacks (BMC or VM settings), or change nodes[].role; a disk too small: nodes[].installDisk names another, or add one",
			"too small for a %s (minimums from %s): %s; it has %s", role, from, strings.Join(short, "; "), seen)
	}
	msg := fmt.Sprintf("enough for a %s (%d CPUs, %s, a %s disk; %s): %s", role, req.CPUCores, gibs(req.RAMMiB<<20), ai.HumanBytes(minDisk), from, seen)
	if hw.CPUs == 0 || hw.MemoryBytes == 0 || known == 0 {
		msg += "; what the BMC does not tell, the installer checks after discovery"
	}
	return ok(n.Name, "%s", msg)
}

func gibs(b int64) string {
	if b == 0 {
		return "unknown memory"
	}
	return fmt.Sprintf("%g GiB", float64(b)/(1<<30))
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "unknown"
	}
	return strings.Join(s, ", ")
}
