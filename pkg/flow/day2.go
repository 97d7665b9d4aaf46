package flow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"

	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
)

// Day-2: workers added to the lab file once the cluster is installed join it without a
// reinstall. The installed cluster is turned into the service's day-2 cluster (allow-add-hosts:
// same cluster, kind AddHostsCluster) rather than imported (clusters/import makes a second
// cluster object, with none of the lab's settings), a day-2 infra env serves their discovery
// image, and each new worker is booted and bound by MAC as in the install, installed on its
// own (install host), and approved into the cluster through its API (its kubelet's client
// and serving CSRs), until its node is Ready. The install's hosts are never touched.

// Day2StepNames are the day-2 steps, the last of StepNames; StartDay2 runs them again.
var Day2StepNames = []string{"add-hosts", "discover-day2", "install-day2", "join-day2"}

// Membership of a node in the installed cluster (State.Members).
const (
	MemberDay1 = "day1" // installed with the cluster
	MemberDay2 = "day2" // joined it later
)

// PhaseDay2Install is a day-2 worker's install: as PhaseInstall, except that the node boots
// from disk from the moment its image is being written, since the service reports no stage
// after Rebooting for it.
const PhaseDay2Install Phase = "day2-install"

func (f *Flow) day2Steps(t config.Timeouts) map[string]Step {
	return map[string]Step{
		"add-hosts":     {Run: f.addHosts},
		"discover-day2": {Timeout: t.HostsRegistered.D(), Run: f.discoverDay2},
		"install-day2":  {Timeout: t.Install.D(), Run: f.installDay2},
		"join-day2":     {Timeout: t.Install.D(), Run: f.joinDay2},
	}
}

// Installed says whether the install itself is done: every step up to verify.
func (f *Flow) Installed() bool {
	for _, r := range f.runner.Records() {
		if slices.Contains(Day2StepNames, r.Name) {
			continue
		}
		if r.State != StateDone {
			return false
		}
	}
	return true
}

// StartDay2 makes the next Run take the lab's new workers into the installed cluster.
func (f *Flow) StartDay2() error { return f.runner.ResetSteps(Day2StepNames) }

// Day2Nodes are the lab's nodes that are not (yet) in the installed cluster; none before the
// cluster is installed.
func (f *Flow) Day2Nodes() []config.Node {
	members := f.State().Members
	if members == nil {
		return nil
	}
	var out []config.Node
	for _, n := range f.d.Lab.Nodes {
		if members[n.Name] == "" {
			out = append(out, n)
		}
	}
	return out
}

// Removed are the nodes in the installed cluster that the lab file no longer has: flagged,
// never deleted by the flow.
func (f *Flow) Removed() []string {
	var out []string
	for name := range f.State().Members {
		if f.d.Lab.Node(name) == nil {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// recordMembers notes, once, which lab nodes the installed cluster has: those whose host in the
// install's infra env is installed.
func (f *Flow) recordMembers(ctx context.Context) error {
	if f.State().Members != nil {
		return nil
	}
	hosts, err := f.d.AI.InfraEnvHosts(ctx, f.State().InfraEnvID)
	if err != nil {
		return err
	}
	ix := f.indexHosts(hosts)
	members := map[string]string{}
	for _, n := range f.d.Lab.Nodes {
		if h := ix.of(n); h != nil && h.Status == statusInstalled {
			members[n.Name] = MemberDay1
		}
	}
	return f.save(func(s *State) { s.Members = members })
}

func (f *Flow) day2InfraEnvName() string { return f.d.Lab.Cluster.Name + "_day2_infra-env" }

// addHosts makes the installed cluster accept the new workers and serves their discovery
// image: the cluster turned into the service's day-2 cluster, a day-2 infra env (with the
// lab's NTP sources and discovery ignition override, like the install's), its boot artifacts
// cached. With no new worker it does nothing.
func (f *Flow) addHosts(ctx context.Context) error {
	if err := f.recordMembers(ctx); err != nil {
		return err
	}
	nodes := f.Day2Nodes()
	if len(nodes) == 0 {
		return nil
	}
	for _, n := range nodes {
		if n.Role != config.RoleWorker {
			return Permanent(fmt.Errorf("%s is a new %s node: only workers join an installed cluster; the lab needs `cn2-appliance reprovision`", n.Name, n.Role))
		}
	}
	st := f.State()
	c, err := f.d.AI.GetCluster(ctx, st.ClusterID, true)
	if err != nil {
		return err
	}
	if c.Kind != ai.KindAddHostsCluster {
		if c.Status != statusInstalled {
			return fmt.Errorf("add hosts: the cluster is %s, want installed", c.Status)
		}
		if _, err := f.d.AI.AllowAddHosts(ctx, c.ID); err != nil {
			return err
		}
		f.event(slog.LevelInfo, "", fmt.Sprintf("cluster %s accepts day-2 workers (allow-add-hosts)", c.ID))
	}
	id, err := f.ensureDay2InfraEnv(ctx)
	if err != nil {
		return err
	}
	return f.cacheBootArtifacts(ctx, id, nodes)
}

func (f *Flow) ensureDay2InfraEnv(ctx context.Context) (string, error) {
	st := f.State()
	if st.Day2InfraEnvID != "" {
		_, err := f.d.AI.GetInfraEnv(ctx, st.Day2InfraEnvID)
		if err == nil {
			return st.Day2InfraEnvID, nil
		}
		if !errors.Is(err, ai.ErrNotFound) {
			return "", err
		}
	}
	envs, err := f.d.AI.ListInfraEnvs(ctx, st.ClusterID)
	if err != nil {
		return "", err
	}
	for _, ie := range envs {
		if ie.Name == f.day2InfraEnvName() {
			return ie.ID, f.save(func(s *State) { s.Day2InfraEnvID = ie.ID })
		}
	}
	lab := f.d.Lab
	pull, err := ai.PullSecret(lab.Cluster.PullSecret.Reveal())
	if err != nil {
		return "", Permanent(err)
	}
	ign, err := f.discoveryIgnition() // day-2 workers get the same debug access
	if err != nil {
		return "", Permanent(err)
	}
	params := ai.InfraEnvCreateParams{
		Name:                   f.day2InfraEnvName(),
		ClusterID:              st.ClusterID,
		OpenshiftVersion:       lab.Cluster.OpenshiftVersion,
		CPUArchitecture:        "x86_64",
		ImageType:              lab.AssistedInstaller.ImageType,
		SSHAuthorizedKey:       ptr(lab.Cluster.SSHPublicKey),
		PullSecret:             pull,
		IgnitionConfigOverride: ign,
		KernelArguments:        discoveryKernelArguments(lab),
	}
	if ntp := lab.InfraEnvNTPSources(); ntp != "" {
		params.AdditionalNTPSources = &ntp
	}
	ie, err := f.d.AI.RegisterInfraEnv(ctx, params)
	if err != nil {
		return "", err
	}
	f.event(slog.LevelInfo, "", fmt.Sprintf("registered day-2 infra env %s", ie.ID))
	return ie.ID, f.save(func(s *State) { s.Day2InfraEnvID = ie.ID })
}

// discoverDay2 boots the new workers into the day-2 image and binds them by MAC, as discover
// does for the install, and gives them their labels.
func (f *Flow) discoverDay2(ctx context.Context) error {
	nodes := f.Day2Nodes()
	if len(nodes) == 0 {
		return nil
	}
	if err := f.discoverIn(ctx, f.State().Day2InfraEnvID, nodes); err != nil {
		return err
	}
	defer f.observeAll(ctx)
	hosts, err := f.d.AI.InfraEnvHosts(ctx, f.State().Day2InfraEnvID)
	if err != nil {
		return err
	}
	ix := f.indexHosts(hosts)
	for _, eh := range f.d.Lab.ExpectedHosts() {
		if n := f.d.Lab.Node(eh.Name); n != nil && slices.ContainsFunc(nodes, func(d config.Node) bool { return d.Name == n.Name }) {
			if err := f.labelHost(ctx, *n, eh, ix.of(*n)); err != nil {
				return err
			}
		}
	}
	return nil
}

// installDay2 installs each new worker once its host is known, and follows the installs with
// the node ladder until every one is added to the cluster.
func (f *Flow) installDay2(ctx context.Context) error {
	nodes := f.Day2Nodes()
	if len(nodes) == 0 {
		return nil
	}
	ieID := f.State().Day2InfraEnvID
	return f.poll(ctx, func(ctx context.Context) (bool, error) {
		hosts, err := f.d.AI.InfraEnvHosts(ctx, ieID)
		if err != nil {
			return false, err
		}
		ix := f.indexHosts(hosts)
		f.observeAll(ctx)
		if err := f.reconcile(ctx, PhaseDay2Install, nodes, ix); err != nil {
			return false, err
		}
		added := 0
		for _, n := range nodes {
			h := ix.of(n)
			switch {
			case h == nil:
				return false, fmt.Errorf("install %s: its host is gone from the day-2 infra env", n.Name)
			case h.Status == ai.HostAddedToExistingCluster || h.Status == statusInstalled:
				added++
			case h.Status == ai.HostKnown:
				if _, err := f.d.AI.InstallHost(ctx, ieID, h.ID); err != nil && !errors.Is(err, ai.ErrConflict) {
					return false, err
				}
				f.event(slog.LevelInfo, n.Name, fmt.Sprintf("day-2 install of host %s started", h.ID))
			case h.Status == statusError:
				return false, Permanent(fmt.Errorf("the day-2 install of %s failed: %s", n.Name, h.StatusInfo))
			}
		}
		return added == len(nodes), nil
	})
}

// joinDay2 approves the new workers' node CSRs through the cluster API (only theirs: a CSR
// for any other name is left to the operator) until each of their nodes is Ready; they are
// then members of the cluster.
func (f *Flow) joinDay2(ctx context.Context) error {
	nodes := f.Day2Nodes()
	if len(nodes) == 0 {
		return nil
	}
	if f.d.ClusterAPI == nil {
		return Permanent(errors.New("join: no cluster API to approve the new workers' CSRs"))
	}
	api, err := f.d.ClusterAPI(ctx)
	if err != nil {
		return fmt.Errorf("join: open the cluster API: %w", err)
	}
	want := map[string]bool{}
	for _, n := range nodes {
		want[n.Name] = true
	}
	return f.poll(ctx, func(ctx context.Context) (bool, error) {
		csrs, err := api.PendingNodeCSRs(ctx)
		if err != nil {
			return false, fmt.Errorf("join: list CSRs: %w", err)
		}
		for _, c := range csrs {
			if !want[c.Node] {
				continue
			}
			if err := api.ApproveCSR(ctx, c.Name, "cn2-appliance: day-2 worker "+c.Node+" of the lab file"); err != nil {
				return false, fmt.Errorf("join: approve %s CSR %s of %s: %w", c.Kind, c.Name, c.Node, err)
			}
			f.event(slog.LevelInfo, c.Node, fmt.Sprintf("approved its %s CSR %s", c.Kind, c.Name))
		}
		var waiting []string
		for _, n := range nodes {
			ready, _, err := api.NodeReady(ctx, n.Name)
			if err != nil {
				return false, fmt.Errorf("join: node %s: %w", n.Name, err)
			}
			if !ready {
				waiting = append(waiting, n.Name)
			}
		}
		if len(waiting) > 0 {
			f.d.Log.Debug("flow: day-2 nodes not Ready yet", "nodes", strings.Join(waiting, ","))
			return false, nil
		}
		if err := f.save(func(s *State) {
			for _, n := range nodes {
				s.Members[n.Name] = MemberDay2
			}
		}); err != nil {
			return false, err
		}
		for _, n := range nodes {
			f.event(slog.LevelInfo, n.Name, "joined the cluster as a day-2 worker: its node is Ready")
		}
		return true, nil
	})
}

// observeAll records the hosts of both infra envs, the install's and the day-2 one, for the
// status page; a failure to list them only leaves the last view.
func (f *Flow) observeAll(ctx context.Context) {
	var all []ai.Host
	for _, id := range []string{f.State().InfraEnvID, f.State().Day2InfraEnvID} {
		if id == "" {
			continue
		}
		hosts, err := f.d.AI.InfraEnvHosts(ctx, id)
		if err != nil {
			return
		}
		all = append(all, hosts...)
	}
	f.noteUnknownHosts(all, f.indexHosts(all))
}
