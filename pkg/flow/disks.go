package flow

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
)

// matchInstallDisk finds the inventory disk that want names. A disk named by path, id or
// serial must also be one the installer accepts; a rule picks among the accepted ones. The
// problem, when there is no match, says why in the operator's words.
func matchInstallDisk(want config.InstallDisk, disks []ai.Disk) (ai.Disk, string) {
	named := func(d ai.Disk) bool {
		switch {
		case want.ByPath != "":
			return d.ByPath == want.ByPath
		case want.ByID != "":
			return d.ByID == want.ByID || d.ID == want.ByID
		default:
			return want.Serial != "" && d.Serial == want.Serial
		}
	}
	if want.Rule == "" {
		i := slices.IndexFunc(disks, named)
		if i < 0 {
			return ai.Disk{}, fmt.Sprintf("installDisk %s matches none of its disks", want)
		}
		if d := disks[i]; !d.InstallationEligibility.Eligible {
			return ai.Disk{}, fmt.Sprintf("installDisk %s is %s, which the installer will not install to (%s)",
				want, d.Name, strings.Join(d.InstallationEligibility.NotEligibleReasons, "; "))
		}
		return disks[i], ""
	}
	var fit []ai.Disk
	for _, d := range disks {
		if d.InstallationEligibility.Eligible && d.SizeBytes >= int64(want.MinSizeGB)*1e9 {
			fit = append(fit, d)
		}
	}
	if len(fit) == 0 {
		return ai.Disk{}, fmt.Sprintf("installDisk %s: the node has no such disk", want)
	}
	slices.SortStableFunc(fit, func(a, b ai.Disk) int {
		return cmp.Or(cmp.Compare(a.SizeBytes, b.SizeBytes), cmp.Compare(a.Name, b.Name))
	})
	if want.Rule == config.DiskLargest {
		return fit[len(fit)-1], ""
	}
	return fit[0], ""
}

// diskUpdate is what the host update must change for the node's disks: the installation disk
// its installDisk names, and the other disks the installer would format, skipped unless
// wipeDisks. problem says why the node cannot be installed as the lab asks ("" when it can).
func diskUpdate(n config.Node, h *ai.Host) (p ai.HostUpdateParams, problem string) {
	inv, err := h.ParsedInventory()
	if err != nil || inv == nil {
		return p, ""
	}
	install := h.InstallationDiskID
	if n.InstallDisk != nil {
		d, why := matchInstallDisk(*n.InstallDisk, inv.Disks)
		if why != "" {
			return p, why + "; it has: " + listDisks(inv.Disks) + ". Change nodes[" + n.Name + "].installDisk to one of these"
		}
		install = d.ID
		if h.InstallationDiskID != d.ID {
			p.DisksSelectedConfig = &[]ai.DiskConfigParams{{ID: d.ID, Role: ai.DiskRoleInstall}}
		}
	}
	skipped := ai.SplitIDs(h.SkipFormattingDisks)
	var skips []ai.DiskSkipFormattingParams
	for _, id := range ai.SplitIDs(h.DisksToBeFormatted) {
		want := !n.WipeDisks && id != install
		if slices.Contains(skipped, id) != want {
			skips = append(skips, ai.DiskSkipFormattingParams{DiskID: id, SkipFormatting: want})
		}
	}
	if len(skips) > 0 {
		p.DisksSkipFormatting = &skips
	}
	return p, ""
}

func listDisks(disks []ai.Disk) string {
	if len(disks) == 0 {
		return "no disks"
	}
	s := make([]string, len(disks))
	for i, d := range disks {
		s[i] = d.String()
	}
	return strings.Join(s, ", ")
}

// DiskProblems are the nodes whose lab file says an install disk their inventory does not
// have, by node name: what the operator must change. The flow holds their install until then.
func (f *Flow) DiskProblems() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.diskProblems)
}

// noteDiskProblem records (or clears, with "") a node's disk problem; a new one is an event.
func (f *Flow) noteDiskProblem(node, problem string) {
	f.mu.Lock()
	old := f.diskProblems[node]
	if problem == "" {
		delete(f.diskProblems, node)
	} else {
		if f.diskProblems == nil {
			f.diskProblems = map[string]string{}
		}
		f.diskProblems[node] = problem
	}
	f.mu.Unlock()
	if problem != "" && problem != old {
		f.event(slog.LevelWarn, node, "needs attention: "+problem)
	}
}

// describeDiskUpdate words a disk update for the event log.
func describeDiskUpdate(p ai.HostUpdateParams) string {
	var parts []string
	if p.DisksSelectedConfig != nil {
		parts = append(parts, "installation disk set to "+(*p.DisksSelectedConfig)[0].ID)
	}
	if p.DisksSkipFormatting != nil {
		var keep, wipe []string
		for _, s := range *p.DisksSkipFormatting {
			if s.SkipFormatting {
				keep = append(keep, s.DiskID)
			} else {
				wipe = append(wipe, s.DiskID)
			}
		}
		if len(keep) > 0 {
			parts = append(parts, "not formatting "+strings.Join(keep, ", ")+" (wipeDisks is false)")
		}
		if len(wipe) > 0 {
			parts = append(parts, "formatting "+strings.Join(wipe, ", ")+" (wipeDisks)")
		}
	}
	return strings.Join(parts, "; ")
}

// PreflightRequirements asks the installer for its hardware minimums of this lab's cluster;
// an error until the cluster exists.
func (f *Flow) PreflightRequirements(ctx context.Context) (*ai.PreflightRequirements, error) {
	id := f.State().ClusterID
	if id == "" {
		return nil, errors.New("flow: no cluster yet")
	}
	return f.d.AI.PreflightRequirements(ctx, id)
}
