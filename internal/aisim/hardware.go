package aisim

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
)

// Hardware is a simulated machine as its discovery agent reports it: the disks as the agent
// sees them (the simulator adds the agent's and the service's eligibility verdicts).
type Hardware struct {
	CPUs        int       `json:"cpus"`
	MemoryBytes int64     `json:"memory_bytes"`
	Disks       []ai.Disk `json:"disks"`
}

const gib = int64(1) << 30

// DefaultHardware is a machine big enough for any role, with one 120 GB disk; nodes that
// name no hardware get it.
func DefaultHardware() Hardware {
	return Hardware{CPUs: 16, MemoryBytes: 32 * gib, Disks: []ai.Disk{{
		Name: "sda", ByPath: "/dev/disk/by-path/pci-0000:00:05.0", DriveType: "HDD",
		Model: "QEMU_HARDDISK", SizeBytes: 120e9, Serial: "aisim-sda",
	}}}
}

// Requirements per role, as the service's default HW_VALIDATOR_REQUIREMENTS; single-node
// OpenShift has its own. Memory is in MiB, disk in GB (10^9 bytes).
var (
	masterRequirements = ai.HostRequirements{CPUCores: 4, RAMMiB: 16384, DiskSizeGB: 100}
	workerRequirements = ai.HostRequirements{CPUCores: 2, RAMMiB: 8192, DiskSizeGB: 100}
	snoRequirements    = ai.HostRequirements{CPUCores: 8, RAMMiB: 16384, DiskSizeGB: 100}
)

// memoryToleranceMiB is the service's allowance below the required RAM.
const memoryToleranceMiB = 100

// requirements are what a host of the given role needs in a cluster with controlPlane
// control-plane nodes; an auto-assign host is held to the master's.
func requirements(role string, controlPlane int) ai.HostRequirements {
	switch {
	case controlPlane == 1:
		return snoRequirements
	case role == ai.RoleWorker:
		return workerRequirements
	default:
		return masterRequirements
	}
}

// validDriveTypes are the installable drive types on x86_64 for 4.15 and later.
var validDriveTypes = []string{"HDD", "SSD", "Multipath", "RAID", "iSCSI", "FC"}

// agentDisks completes the disks as the agent reports them: ids (by-id, else by-path), paths,
// and the agent's own verdicts (installation media, removable, optical).
func agentDisks(in []ai.Disk) []ai.Disk {
	out := slices.Clone(in)
	for i := range out {
		d := &out[i]
		d.Path = "/dev/" + d.Name
		d.ID = d.ByID
		if d.ID == "" {
			d.ID = d.ByPath
		}
		var reasons []string
		if strings.Contains(d.PartitionTypes, "iso9660") {
			d.IsInstallationMedia = true
			reasons = append(reasons, "Disk appears to be an ISO installation media (has partition with type iso9660)")
		}
		if d.Removable {
			reasons = append(reasons, "Disk is removable")
		}
		if d.DriveType == "ODD" {
			reasons = append(reasons, "Disk is an optical disk drive")
		}
		d.InstallationEligibility = ai.InstallationEligibility{Eligible: len(reasons) == 0, NotEligibleReasons: reasons}
	}
	return out
}

// serviceEligibility adds the service's verdicts (size, drive type) for req to disks the
// agent found eligible, as the service does on every inventory and role change.
func serviceEligibility(disks []ai.Disk, agent []ai.Disk, req ai.HostRequirements) {
	for i := range disks {
		d := &disks[i]
		reasons := slices.Clone(agent[i].InstallationEligibility.NotEligibleReasons)
		if min := req.DiskSizeGB * 1e9; d.SizeBytes < min {
			reasons = append(reasons, fmt.Sprintf("Disk is too small (disk only has %s, but %s are required)", ai.HumanBytes(d.SizeBytes), ai.HumanBytes(min)))
		}
		if !slices.Contains(validDriveTypes, d.DriveType) {
			reasons = append(reasons, fmt.Sprintf("Drive type is %s, it must be one of %s.", d.DriveType, strings.Join(validDriveTypes, ", ")))
		}
		d.InstallationEligibility = ai.InstallationEligibility{Eligible: len(reasons) == 0, NotEligibleReasons: reasons}
		if reasons == nil {
			d.InstallationEligibility.NotEligibleReasons = []string{}
		}
	}
}

// eligibleDisks lists the eligible disks in the service's order of preference: bootable
// first, non-NVMe before NVMe, by drive type, then the smallest.
func eligibleDisks(disks []ai.Disk) []ai.Disk {
	var out []ai.Disk
	for _, d := range disks {
		if d.InstallationEligibility.Eligible {
			out = append(out, d)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Bootable != b.Bootable {
			return a.Bootable
		}
		if na, nb := strings.HasPrefix(a.Name, "nvme"), strings.HasPrefix(b.Name, "nvme"); na != nb {
			return nb
		}
		if a.DriveType != b.DriveType {
			return a.DriveType < b.DriveType
		}
		return a.SizeBytes < b.SizeBytes
	})
	return out
}

// disksToBeFormatted are the disks the service formats once the install begins (unless
// skipped): bootable, not removable, not FC/iSCSI/LVM/multipath, not the installation media.
func disksToBeFormatted(disks []ai.Disk) []string {
	var ids []string
	for _, d := range disks {
		removable := d.Removable || strings.Contains(d.ByPath, "mmcblk")
		if d.Bootable && !removable && !d.IsInstallationMedia && !slices.Contains([]string{"FC", "iSCSI", "LVM", "Multipath"}, d.DriveType) {
			ids = append(ids, d.ID)
		}
	}
	return ids
}

// refreshHardware recomputes, for the host's role, its disks' eligibility, its installation
// disk (kept when still eligible, else the service's first choice) and the disks to format.
// Callers hold s.mu.
func (s *Sim) refreshHardware(h *host) {
	role := h.h.Role
	if role == ai.RoleAutoAssign {
		role = h.h.SuggestedRole
	}
	h.reqs = requirements(role, s.controlPlaneOf(h))
	disks := slices.Clone(h.agentDisks)
	serviceEligibility(disks, h.agentDisks, h.reqs)
	h.inv.Disks = disks
	eligible := eligibleDisks(disks)
	if !slices.ContainsFunc(eligible, func(d ai.Disk) bool { return d.ID == h.h.InstallationDiskID }) {
		h.h.InstallationDiskID, h.h.InstallationDiskPath = "", ""
		if len(eligible) > 0 {
			h.h.InstallationDiskID, h.h.InstallationDiskPath = eligible[0].ID, eligible[0].Path
		}
	}
	h.h.DisksToBeFormatted = strings.Join(disksToBeFormatted(disks), ",")
	h.h.Inventory, _ = jsonText(h.inv)
}

func (s *Sim) controlPlaneOf(h *host) int {
	if h.h.ClusterID != nil {
		if cl := s.clusters[*h.h.ClusterID]; cl != nil {
			return cl.controlPlaneCount
		}
	}
	return 3
}

// hardwareChecks are the service's hardware validations of a host.
func hardwareChecks(h *host) []check {
	inv, req := h.inv, h.reqs
	role := h.h.Role
	if role == ai.RoleAutoAssign && h.h.SuggestedRole != "" {
		role = h.h.SuggestedRole
	}
	cpus, mem := 0, int64(0)
	if inv.CPU != nil {
		cpus = inv.CPU.Count
	}
	if inv.Memory != nil {
		mem = inv.Memory.PhysicalBytes
	}
	mib := func(n int64) int64 { return n << 20 }
	anyRole := workerRequirements
	return []check{
		{"hardware", "has-min-cpu-cores", cpus >= anyRole.CPUCores,
			fmt.Sprintf("The host is not eligible to participate in Openshift Cluster because the minimum required CPU cores for any role is %d, found only %d", anyRole.CPUCores, cpus), "Sufficient CPU cores"},
		{"hardware", "has-min-memory", mem >= mib(anyRole.RAMMiB-memoryToleranceMiB),
			fmt.Sprintf("The host is not eligible to participate in Openshift Cluster because the minimum required RAM for any role is %s, found only %s", iec(mib(anyRole.RAMMiB)), iec(mem)), "Sufficient minimum RAM"},
		{"hardware", "has-min-valid-disks", len(eligibleDisks(inv.Disks)) > 0,
			"No eligible disks were found, please check specific disks to see why they are not eligible", "Sufficient disk capacity"},
		{"hardware", "has-cpu-cores-for-role", cpus >= req.CPUCores,
			fmt.Sprintf("Require at least %d CPU cores for %s role, found only %d", req.CPUCores, role, cpus), "Sufficient CPU cores for role " + role},
		{"hardware", "has-memory-for-role", mem >= mib(req.RAMMiB-memoryToleranceMiB),
			fmt.Sprintf("Require at least %s RAM for role %s, found only %s", iec(mib(req.RAMMiB)), role, iec(mem)), "Sufficient RAM for role " + role},
	}
}

// iec writes bytes in binary units, as the service's RAM messages do.
func iec(n int64) string {
	if n%gib == 0 {
		return fmt.Sprintf("%d GiB", n/gib)
	}
	return fmt.Sprintf("%.2f GiB", float64(n)/float64(gib))
}

// selectDisks applies a host update's disks_selected_config and disks_skip_formatting, as
// the service does: the installation disk must be one of the host's eligible disks, and a
// disk to skip must be one of its disks. It returns the client error, or "".
func (s *Sim) selectDisks(h *host, p ai.HostUpdateParams) string {
	if p.DisksSelectedConfig != nil {
		install := ""
		for _, c := range *p.DisksSelectedConfig {
			if c.Role == ai.DiskRoleInstall {
				if install != "" {
					return "Duplicate setting of installation path by the user"
				}
				install = c.ID
			}
		}
		if install != "" {
			i := slices.IndexFunc(eligibleDisks(h.inv.Disks), func(d ai.Disk) bool { return d.ID == install || d.ByPath == install || d.Path == install })
			if i < 0 {
				return "Requested installation disk is not part of the host's valid disks"
			}
			d := eligibleDisks(h.inv.Disks)[i]
			h.h.InstallationDiskID, h.h.InstallationDiskPath = d.ID, d.Path
		}
	}
	if p.DisksSkipFormatting != nil {
		skip := ai.SplitIDs(h.h.SkipFormattingDisks)
		for _, c := range *p.DisksSkipFormatting {
			if !slices.ContainsFunc(h.inv.Disks, func(d ai.Disk) bool { return d.ID == c.DiskID }) {
				return "Disk " + c.DiskID + " is not a disk of host " + h.h.ID
			}
			skip = slices.DeleteFunc(skip, func(id string) bool { return id == c.DiskID })
			if c.SkipFormatting {
				skip = append(skip, c.DiskID)
			}
		}
		sort.Strings(skip)
		h.h.SkipFormattingDisks = strings.Join(skip, ",")
	}
	return ""
}

// Formatted says, for the host with this MAC, which disk the image is written to and which
// other disks the install formats (to be formatted and not skipped). For tests.
func (s *Sim) Formatted(mac string) (install string, formatted []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.hostByMAC(strings.ToLower(mac))
	if h == nil {
		return "", nil
	}
	skip := ai.SplitIDs(h.h.SkipFormattingDisks)
	for _, id := range ai.SplitIDs(h.h.DisksToBeFormatted) {
		if !slices.Contains(skip, id) && id != h.h.InstallationDiskID {
			formatted = append(formatted, id)
		}
	}
	return h.h.InstallationDiskID, formatted
}

// installDiskLabel is the installation disk as the service names it in messages:
// (name, by-path-or-id).
func installDiskLabel(h *host) string {
	for _, d := range h.inv.Disks {
		if d.ID == h.h.InstallationDiskID {
			return "(" + d.Name + ", " + d.ID + ")"
		}
	}
	return "(unknown disk)"
}

func (s *Sim) preflightRequirements(w http.ResponseWriter, r *http.Request) {
	cl := s.findCluster(w, r)
	if cl == nil {
		return
	}
	var out ai.PreflightRequirements
	out.OCP.Master.Quantitative = requirements(ai.RoleMaster, cl.controlPlaneCount)
	out.OCP.Worker.Quantitative = requirements(ai.RoleWorker, cl.controlPlaneCount)
	writeJSON(w, http.StatusOK, out)
}
