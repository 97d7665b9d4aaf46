package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/cn2-appliance/cn2-appliance/internal/atomicfile"
	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
	"github.com/cn2-appliance/cn2-appliance/pkg/bmc"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
)

// StepNames are the flow's steps, in order.
var StepNames = []string{
	"preflight", "ensure-cluster", "set-network-type", "ensure-infra-env", "patch-ignition", "fetch-boot-artifacts",
	"discover-control-plane", "set-vips", "discover-workers",
	"label-dpdk-workers", "upload-manifests", "wait-ready", "install", "watch-install",
	"fetch-credentials", "verify",
	"add-hosts", "discover-day2", "install-day2", "join-day2", // Day2StepNames
}

func (f *Flow) steps() []Step {
	t := f.d.Lab.AssistedInstaller.Timeouts
	run := map[string]Step{
		"preflight": {Run: func(ctx context.Context) error {
			if f.d.Preflight == nil {
				return nil
			}
			if err := f.d.Preflight(ctx); err != nil {
				return Permanent(err)
			}
			return nil
		}},
		"ensure-cluster":       {Run: f.ensureCluster},
		"set-network-type":     {Run: f.setNetworkType},
		"ensure-infra-env":     {Run: f.ensureInfraEnv},
		"patch-ignition":       {Run: f.patchIgnition},
		"fetch-boot-artifacts": {Run: f.fetchBootArtifacts},
		"discover-control-plane": {Timeout: t.HostsRegistered.D(), Run: func(ctx context.Context) error {
			return f.discover(ctx, config.RoleControlPlane)
		}},
		"set-vips": {Run: f.setVIPs},
		"discover-workers": {Timeout: t.HostsRegistered.D(), Run: func(ctx context.Context) error {
			return f.discover(ctx, config.RoleWorker)
		}},
		"label-dpdk-workers": {Run: f.labelHosts},
		"upload-manifests":   {Run: f.uploadManifests},
		"wait-ready":         {Timeout: t.ClusterReady.D(), Run: f.waitReady},
		"install":            {Run: f.install},
		"watch-install":      {Timeout: t.Install.D(), Run: f.watchInstall},
		"fetch-credentials":  {Run: f.fetchCredentials},
		"verify":             {Run: f.verify},
	}
	for name, s := range f.day2Steps(t) {
		run[name] = s
	}
	steps := make([]Step, len(StepNames))
	for i, name := range StepNames {
		s := run[name]
		s.Name = name
		inner := s.Run
		s.Run = func(ctx context.Context) error {
			err := inner(ctx)
			if errors.Is(err, ai.ErrAuth) { // a refused offline token does not fix itself
				return Permanent(err)
			}
			if refusesPullSecret(err) {
				return Permanent(fmt.Errorf("the installer refuses the lab's pull secret (fix cluster.pullSecretFile): %w", err))
			}
			return err
		}
		steps[i] = s
	}
	return steps
}

func ptr[T any](v T) *T { return &v }

// refusesPullSecret says whether the installer refused a request for its pull secret: sending
// it again cannot help until the lab file changes.
func refusesPullSecret(err error) bool {
	var apiErr *ai.APIError
	return errors.As(err, &apiErr) && errors.Is(err, ai.ErrBadRequest) && strings.Contains(apiErr.Reason, "pull secret")
}

// clusterParams is how the lab registers its cluster: cluster-managed networking on bare
// metal, VIPs given up front so the cluster does not sit in insufficient for want of them.
func (f *Flow) clusterParams() (ai.ClusterCreateParams, error) {
	c := f.d.Lab.Cluster
	pull, err := ai.PullSecret(c.PullSecret.Reveal())
	if err != nil {
		return ai.ClusterCreateParams{}, Permanent(err)
	}
	cp := 3
	if len(f.d.Lab.Nodes) == 1 {
		cp = 1
	}
	return withProxy(f.d.Lab, ai.ClusterCreateParams{
		Name:                  c.Name,
		OpenshiftVersion:      c.OpenshiftVersion,
		BaseDNSDomain:         c.BaseDomain,
		ClusterNetworks:       []ai.ClusterNetwork{{CIDR: c.ClusterNetwork.String(), HostPrefix: c.HostPrefix}},
		ServiceNetworks:       []ai.Network{{CIDR: c.ServiceNetwork.String()}},
		MachineNetworks:       []ai.Network{{CIDR: c.MachineNetwork.String()}},
		APIVIPs:               []ai.VIP{{IP: c.APIVIP.String()}},
		IngressVIPs:           []ai.VIP{{IP: c.IngressVIP.String()}},
		Platform:              &ai.Platform{Type: "baremetal"},
		UserManagedNetworking: ptr(false),
		VIPDHCPAllocation:     ptr(false),
		ControlPlaneCount:     &cp,
		SSHPublicKey:          c.SSHPublicKey,
		PullSecret:            pull,
	}), nil
}

// findCluster returns the id of the lab's cluster at the installer: the saved one if it still
// exists, else the one with the lab's name and domain; "" when there is none.
func (f *Flow) findCluster(ctx context.Context) (string, error) {
	lab := f.d.Lab
	if id := f.State().ClusterID; id != "" {
		_, err := f.d.AI.GetCluster(ctx, id, true)
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, ai.ErrNotFound) {
			return "", err
		}
		f.event(slog.LevelWarn, "", fmt.Sprintf("cluster %s is gone from the installer; looking for %s by name", id, lab.Zone()))
	}
	found, err := f.d.AI.FindClusterByName(ctx, lab.Cluster.Name)
	if err != nil {
		return "", err
	}
	var ours []ai.Cluster
	for _, c := range found {
		if c.BaseDNSDomain == lab.Cluster.BaseDomain {
			ours = append(ours, c)
		}
	}
	switch len(ours) {
	case 0:
		return "", nil
	case 1:
		return ours[0].ID, nil
	default:
		return "", Permanent(fmt.Errorf("the installer has %d clusters named %s; delete the extra ones", len(ours), lab.Zone()))
	}
}

// ensureCluster finds the lab's cluster or registers it. A crash right after registering
// finds it by name on the next run: never two clusters.
func (f *Flow) ensureCluster(ctx context.Context) error {
	id, err := f.findCluster(ctx)
	if err != nil {
		return err
	}
	if id == "" {
		p, err := f.clusterParams()
		if err != nil {
			return err
		}
		c, err := f.d.AI.RegisterCluster(ctx, p)
		if err != nil {
			return err
		}
		id = c.ID
		f.event(slog.LevelInfo, "", fmt.Sprintf("registered cluster %s (%s)%s", f.d.Lab.Zone(), id, proxyNote(f.d.Lab)))
	} else if err := f.syncClusterProxy(ctx, id); err != nil {
		return err
	}
	if id == f.State().ClusterID {
		return nil
	}
	return f.save(func(s *State) { s.ClusterID = id })
}

// networkTypeOverride selects CN2.
var networkTypeOverride = map[string]any{"networking": map[string]any{"networkType": "Contrail"}}

// installConfigOverride is the lab's install-config overrides with CN2's network type merged
// in. A PATCH replaces the whole override, so every key the lab wants goes into this one body.
func installConfigOverride(lab *config.Lab) map[string]any {
	return mergeOverrides(lab.Cluster.InstallConfigOverrides, networkTypeOverride)
}

// mergeOverrides deep-merges over into base (mappings merge key by key; anything else in over
// replaces base's value) and returns a new map; neither argument changes.
func mergeOverrides(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		if bm, ok := out[k].(map[string]any); ok {
			if om, ok := v.(map[string]any); ok {
				out[k] = mergeOverrides(bm, om)
				continue
			}
		}
		out[k] = v
	}
	return out
}

func (f *Flow) setNetworkType(ctx context.Context) error {
	want := installConfigOverride(f.d.Lab)
	id := f.State().ClusterID
	c, err := f.d.AI.GetCluster(ctx, id, true)
	if err != nil {
		return err
	}
	if overridesEqual(c.InstallConfigOverrides, want) {
		return nil
	}
	body, err := ai.InstallConfigOverride(want)
	if err != nil {
		return Permanent(err)
	}
	if err := f.d.AI.UpdateInstallConfig(ctx, id, body); err != nil {
		return err
	}
	if c, err = f.d.AI.GetCluster(ctx, id, true); err != nil {
		return err
	}
	if !overridesEqual(c.InstallConfigOverrides, want) {
		return fmt.Errorf("set network type: the installer kept install-config overrides %q", c.InstallConfigOverrides)
	}
	f.event(slog.LevelInfo, "", "network type set to Contrail (install-config override)")
	return nil
}

func overridesEqual(text string, want map[string]any) bool {
	got, err := ai.ParseInstallConfigOverride(text)
	if err != nil || got == nil {
		return false
	}
	w, _ := json.Marshal(want)
	var norm map[string]any
	_ = json.Unmarshal(w, &norm)
	return reflect.DeepEqual(got, norm)
}

func (f *Flow) infraEnvName() string { return f.d.Lab.Cluster.Name + "_infra-env" }

// ensureInfraEnv finds the cluster's infra env (saved id, else by cluster id) or registers it.
func (f *Flow) ensureInfraEnv(ctx context.Context) error {
	lab := f.d.Lab
	// The discovery agent adds these to the hosts' chrony: the lab's NTP servers on the
	// machine network (the appliance, when it serves NTP). An infra env found with others is
	// updated; this runs before the boot artifacts are fetched, so the image has them.
	ntpSources := lab.InfraEnvNTPSources()
	kargs := discoveryKernelArguments(lab)
	syncNTP := func(ie *ai.InfraEnv) error {
		if err := f.syncInfraEnvProxy(ctx, ie); err != nil {
			return err
		}
		if !kernelArgumentsAre(ie, kargs) {
			if _, err := f.d.AI.UpdateInfraEnv(ctx, ie.ID, ai.InfraEnvUpdateParams{KernelArguments: &kargs}); err != nil {
				return err
			}
			f.event(slog.LevelInfo, "", fmt.Sprintf("infra env %s: discovery kernel arguments set to %q", ie.ID, lab.Cluster.DiscoveryKernelArguments))
		}
		if ie.AdditionalNTPSources == ntpSources {
			return nil
		}
		if _, err := f.d.AI.UpdateInfraEnv(ctx, ie.ID, ai.InfraEnvUpdateParams{AdditionalNTPSources: &ntpSources}); err != nil {
			return err
		}
		f.event(slog.LevelInfo, "", fmt.Sprintf("infra env %s: NTP sources set to %q", ie.ID, ntpSources))
		return nil
	}
	st := f.State()
	if st.InfraEnvID != "" {
		ie, err := f.d.AI.GetInfraEnv(ctx, st.InfraEnvID)
		if err == nil {
			return syncNTP(ie)
		}
		if !errors.Is(err, ai.ErrNotFound) {
			return err
		}
	}
	envs, err := f.d.AI.ListInfraEnvs(ctx, st.ClusterID)
	if err != nil {
		return err
	}
	if len(envs) > 0 {
		if len(envs) > 1 {
			f.event(slog.LevelWarn, "", fmt.Sprintf("the cluster has %d infra envs; using %s", len(envs), envs[0].ID))
		}
		if err := f.save(func(s *State) { s.InfraEnvID = envs[0].ID }); err != nil {
			return err
		}
		return syncNTP(&envs[0])
	}
	pull, err := ai.PullSecret(lab.Cluster.PullSecret.Reveal())
	if err != nil {
		return Permanent(err)
	}
	params := withInfraEnvProxy(lab, ai.InfraEnvCreateParams{
		Name:             f.infraEnvName(),
		ClusterID:        st.ClusterID,
		OpenshiftVersion: lab.Cluster.OpenshiftVersion,
		CPUArchitecture:  "x86_64",
		ImageType:        lab.AssistedInstaller.ImageType,
		SSHAuthorizedKey: ptr(lab.Cluster.SSHPublicKey),
		PullSecret:       pull,
		KernelArguments:  kargs,
	})
	if ntpSources != "" {
		params.AdditionalNTPSources = &ntpSources
	}
	ie, err := f.d.AI.RegisterInfraEnv(ctx, params)
	if err != nil {
		return err
	}
	f.event(slog.LevelInfo, "", fmt.Sprintf("registered infra env %s (NTP sources %q%s)", ie.ID, ntpSources, proxyNote(lab)))
	return f.save(func(s *State) { s.InfraEnvID = ie.ID })
}

func (f *Flow) patchIgnition(ctx context.Context) error {
	want, err := f.discoveryIgnition()
	if err != nil {
		return Permanent(err)
	}
	id := f.State().InfraEnvID
	ie, err := f.d.AI.GetInfraEnv(ctx, id)
	if err != nil {
		return err
	}
	if jsonEqual(ie.IgnitionConfigOverride, want) {
		return nil
	}
	if _, err := f.d.AI.UpdateInfraEnv(ctx, id, ai.InfraEnvUpdateParams{IgnitionConfigOverride: want}); err != nil {
		return err
	}
	f.event(slog.LevelInfo, "", "discovery ignition override set (CN2 certificate patch)")
	return nil
}

func jsonEqual(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// fetchBootArtifacts caches what nodes boot: kernel, initrd and rootfs for PXE, or the ISO for
// virtual media. It runs after the last infra-env change, since the image is built from it.
func (f *Flow) fetchBootArtifacts(ctx context.Context) error {
	return f.cacheBootArtifacts(ctx, f.State().InfraEnvID, f.d.Lab.Nodes)
}

// cacheBootArtifacts caches the discovery image of infra env id as nodes boot it.
func (f *Flow) cacheBootArtifacts(ctx context.Context, id string, nodes []config.Node) error {
	ie, err := f.d.AI.GetInfraEnv(ctx, id)
	if err != nil {
		return err
	}
	image := bootImage(ie)
	if bootBy(nodes, config.BootVirtualMedia) {
		u, err := f.d.AI.ImageURL(ctx, id)
		if err != nil {
			return err
		}
		local, err := f.d.Boot.CacheISO(ctx, image, u.URL)
		if err != nil {
			return err
		}
		if err := f.save(func(s *State) { s.ISOURL = local }); err != nil {
			return err
		}
	}
	if !bootsOverNetwork(nodes) {
		return nil
	}
	script, err := f.d.AI.IPXEScript(ctx, id, "", "")
	if err != nil {
		return err
	}
	return f.d.Boot.CacheIPXEArtifacts(ctx, image, script)
}

// bootBy says whether any of nodes boots by method.
func bootBy(nodes []config.Node, method string) bool {
	return slices.ContainsFunc(nodes, func(n config.Node) bool { return n.BootMethod == method })
}

// discover boots the nodes of a role into the discovery image and names them and gives them
// their role once they register. Every poll runs the node ladder, so a node that hangs in
// firmware or powers off is booted again, and one that cannot be booted needs attention;
// booting and binding are one retried unit per node. Hosts that match no node are reported,
// never bound.
func (f *Flow) discover(ctx context.Context, role string) error {
	return f.discoverIn(ctx, f.State().InfraEnvID, f.nodesOf(role))
}

// discoverIn is discover for nodes that boot the image of infra env infraEnvID.
func (f *Flow) discoverIn(ctx context.Context, infraEnvID string, nodes []config.Node) error {
	return f.poll(ctx, func(ctx context.Context) (bool, error) {
		hosts, err := f.d.AI.InfraEnvHosts(ctx, infraEnvID)
		if err != nil {
			return false, err
		}
		ix := f.indexHosts(hosts)
		f.noteUnknownHosts(hosts, ix)
		if err := f.removeStrangers(ctx, f.strangersInCluster(hosts, ix)); err != nil {
			return false, err
		}
		if err := f.reconcile(ctx, PhaseDiscovery, nodes, ix); err != nil {
			return false, err
		}
		missing := 0
		bound := map[string]string{} // node → host id, saved once per poll (the state holds every node's)
		defer func() { _ = f.keepBound(bound) }()
		for _, n := range nodes {
			h := ix.of(n)
			if h == nil {
				missing++
				continue
			}
			ok, err := f.bindHost(ctx, n, h)
			if err != nil {
				return false, err
			}
			if !ok {
				missing++ // its install disk does not match: held until the lab changes
			}
			if f.State().Hosts[n.Name] != h.ID {
				bound[n.Name] = h.ID
			}
		}
		if err := f.keepBound(bound); err != nil {
			return false, err
		}
		return missing == 0, nil
	})
}

func (f *Flow) nodesOf(role string) []config.Node {
	var out []config.Node
	for _, n := range f.d.Lab.Nodes {
		if n.Role == role {
			out = append(out, n)
		}
	}
	return out
}

// bootDiscovery sets a node up to boot the discovery image (its PXE profiles, and its boot
// device by its boot method: see setDiscoveryDevice), then ends with then.
func (f *Flow) bootDiscovery(ctx context.Context, n config.Node, then powerStep) error {
	p, ok := f.power(n.Name)
	if !ok {
		return errNoPower(n)
	}
	// PXE profiles are set for every node: a virtual-media node whose firmware falls back to
	// the network, and a UEFI HTTP boot node (whose iPXE asks for its script), get the
	// discovery image.
	for _, nic := range n.NICs {
		if err := f.d.Boot.SetProfile(string(nic.MAC), ProfileDiscovery); err != nil {
			return err
		}
	}
	if err := f.setDiscoveryDevice(ctx, n, p); err != nil {
		return err
	}
	return endBoot(ctx, p, then)
}

func installerRole(role string) string {
	if role == config.RoleControlPlane {
		return config.HostRoleMaster
	}
	return config.HostRoleWorker
}

// bindHost names the node's host, gives it its role and its disks (disks.go); ok is false
// while the node's install disk does not match its inventory.
func (f *Flow) bindHost(ctx context.Context, n config.Node, h *ai.Host) (ok bool, err error) {
	want := installerRole(n.Role)
	p, diskProblem := diskUpdate(n, h)
	f.noteDiskProblem(n.Name, diskProblem)
	disks := p.DisksSelectedConfig != nil || p.DisksSkipFormatting != nil
	if h.RequestedHostname != n.Name {
		p.HostName = ptr(n.Name)
	}
	if h.Role != want {
		p.HostRole = ptr(want)
	}
	if p.HostName != nil || p.HostRole != nil || disks {
		if _, err := f.d.AI.UpdateHost(ctx, h.InfraEnvID, h.ID, p); err != nil {
			return false, err
		}
		if p.HostName != nil || p.HostRole != nil {
			f.event(slog.LevelInfo, n.Name, fmt.Sprintf("bound host %s as %s", h.ID, want))
		}
		if disks {
			f.event(slog.LevelInfo, n.Name, describeDiskUpdate(p))
		}
	}
	return diskProblem == "", nil
}

// keepBound records the host ids of nodes just bound (node → host id) in one save, and
// empties bound.
func (f *Flow) keepBound(bound map[string]string) error {
	if len(bound) == 0 {
		return nil
	}
	err := f.save(func(s *State) {
		if s.Hosts == nil {
			s.Hosts = map[string]string{}
		}
		maps.Copy(s.Hosts, bound)
	})
	if err == nil {
		clear(bound)
	}
	return err
}

// noteUnknownHosts records the installer's hosts, and those that match no lab node.
func (f *Flow) noteUnknownHosts(hosts []ai.Host, ix hostIndex) {
	lab := f.nodeNames(ix)
	var unknown []ai.Host
	for i := range hosts {
		if lab[&hosts[i]] == "" {
			unknown = append(unknown, hosts[i])
		}
	}
	f.observe(func(o *Observed) { o.Hosts = hosts; o.UnknownHosts = unknown })
}

func (f *Flow) setVIPs(ctx context.Context) error {
	c := f.d.Lab.Cluster
	api, ingress := []ai.VIP{{IP: c.APIVIP.String()}}, []ai.VIP{{IP: c.IngressVIP.String()}}
	id := f.State().ClusterID
	cl, err := f.d.AI.GetCluster(ctx, id, true)
	if err != nil {
		return err
	}
	if vipsEqual(cl.APIVIPs, api) && vipsEqual(cl.IngressVIPs, ingress) {
		return nil
	}
	if cl, err = f.d.AI.UpdateCluster(ctx, id, ai.ClusterUpdateParams{APIVIPs: &api, IngressVIPs: &ingress}); err != nil {
		return err
	}
	if !vipsEqual(cl.APIVIPs, api) || !vipsEqual(cl.IngressVIPs, ingress) {
		return fmt.Errorf("set VIPs: the installer kept api_vips %v, ingress_vips %v", cl.APIVIPs, cl.IngressVIPs)
	}
	f.event(slog.LevelInfo, "", fmt.Sprintf("VIPs set: API %s, ingress %s", c.APIVIP, c.IngressVIP))
	return nil
}

func vipsEqual(got, want []ai.VIP) bool {
	return slices.EqualFunc(got, want, func(a, b ai.VIP) bool { return a.IP == b.IP })
}

// labelHosts gives DPDK workers (and nodes with labels) their node labels.
func (f *Flow) labelHosts(ctx context.Context) error {
	hosts, err := f.d.AI.InfraEnvHosts(ctx, f.State().InfraEnvID)
	if err != nil {
		return err
	}
	ix := f.indexHosts(hosts)
	for _, eh := range f.d.Lab.ExpectedHosts() {
		if len(eh.Labels) == 0 {
			continue
		}
		n := *f.d.Lab.Node(eh.Name)
		if err := f.labelHost(ctx, n, eh, ix.of(n)); err != nil {
			return err
		}
	}
	return nil
}

// labelHost gives node n's host h the labels eh lists.
func (f *Flow) labelHost(ctx context.Context, n config.Node, eh config.ExpectedHost, h *ai.Host) error {
	if len(eh.Labels) == 0 {
		return nil
	}
	if h == nil {
		return fmt.Errorf("label %s: its host is not registered", n.Name)
	}
	want := map[string]string{}
	var labels []ai.NodeLabel
	var text []string
	for _, l := range eh.Labels {
		want[l.Key] = l.Value
		labels = append(labels, ai.NodeLabel{Key: l.Key, Value: l.Value})
		text = append(text, l.Key+"="+l.Value)
	}
	if got, err := h.Labels(); err == nil && maps.Equal(got, want) {
		return nil
	}
	if _, err := f.d.AI.UpdateHost(ctx, h.InfraEnvID, h.ID, ai.HostUpdateParams{NodeLabels: &labels}); err != nil {
		return err
	}
	f.event(slog.LevelInfo, n.Name, "labelled "+strings.Join(text, ", "))
	return nil
}

// clusterObserved fetches the cluster and its hosts and records what is failing.
func (f *Flow) clusterObserved(ctx context.Context) (*ai.Cluster, hostIndex, error) {
	st := f.State()
	c, err := f.d.AI.GetCluster(ctx, st.ClusterID, true)
	if err != nil {
		return nil, nil, err
	}
	hosts, err := f.d.AI.InfraEnvHosts(ctx, st.InfraEnvID)
	if err != nil {
		return nil, nil, err
	}
	ix := f.indexHosts(hosts)
	nodeOf := f.nodeNames(ix)
	var failing []Failing
	if v, err := ai.ParseValidations(c.ValidationsInfo); err == nil {
		for _, x := range v.Failing() {
			failing = append(failing, Failing{Scope: "cluster", Validation: x})
		}
	}
	for i := range hosts {
		h := &hosts[i]
		f.markHost(nodeOf[h], h)
		if v, err := ai.ParseValidations(h.ValidationsInfo); err == nil {
			f.markValidations(nodeOf[h], v)
			scope := nodeOf[h]
			if scope == "" {
				scope = h.Name()
			}
			for _, x := range v.Failing() {
				failing = append(failing, Failing{Scope: scope, Validation: x})
			}
		}
	}
	f.noteUnknownHosts(hosts, ix)
	f.observe(func(o *Observed) { o.Cluster = c; o.Failing = failing })
	return c, ix, nil
}

// Cluster statuses the flow acts on.
const (
	statusReady     = "ready"
	statusInstalled = "installed"
	statusError     = "error"
	statusCancelled = "cancelled"
)

var installStarted = []string{"preparing-for-installation", "installing", "finalizing", "installed", "installing-pending-user-action", ai.ClusterAddingHosts}

// waitReady waits for the cluster to be ready to install; a node that disconnects meanwhile
// is remedied like one that never registered.
func (f *Flow) waitReady(ctx context.Context) error {
	return f.poll(ctx, func(ctx context.Context) (bool, error) {
		c, ix, err := f.clusterObserved(ctx)
		if err != nil {
			return false, err
		}
		if err := f.reconcile(ctx, PhaseDiscovery, f.d.Lab.Nodes, ix); err != nil {
			return false, err
		}
		if err := f.removeStrangers(ctx, f.strangersInCluster(f.Observed().Hosts, ix)); err != nil {
			return false, err
		}
		return c.Status == statusReady || slices.Contains(installStarted, c.Status), nil
	})
}

func (f *Flow) install(ctx context.Context) error {
	c, err := f.d.AI.GetCluster(ctx, f.State().ClusterID, true)
	if err != nil {
		return err
	}
	if slices.Contains(installStarted, c.Status) {
		return nil
	}
	hosts, err := f.d.AI.InfraEnvHosts(ctx, f.State().InfraEnvID)
	if err != nil {
		return err
	}
	if strangers := f.strangersInCluster(hosts, f.indexHosts(hosts)); len(strangers) > 0 {
		if err := f.removeStrangers(ctx, strangers); err != nil {
			return err
		}
		return fmt.Errorf("not installing while the cluster holds a host that is not a lab node (%s); removed, looking again", describeHost(strangers[0]))
	}
	if _, err := f.d.AI.InstallCluster(ctx, c.ID); err != nil {
		return err
	}
	f.event(slog.LevelInfo, "", "installation started")
	return nil
}

// watchInstall follows the install to its end. Every poll runs the node ladder: a node whose
// image is written boots from disk from now on, one that powered off instead of rebooting is
// powered on, one that booted the discovery image again is booted from disk, one that does
// not come back from its reboot is restarted, and one that is stuck needs attention.
func (f *Flow) watchInstall(ctx context.Context) error {
	return f.poll(ctx, func(ctx context.Context) (bool, error) {
		c, ix, err := f.clusterObserved(ctx)
		if err != nil {
			return false, err
		}
		switch c.Status {
		case statusInstalled, ai.ClusterAddingHosts: // installed, and since accepting day-2 workers
			return true, nil
		case statusError, statusCancelled:
			return false, Permanent(fmt.Errorf("the install ended %s: %s", c.Status, c.StatusInfo))
		}
		return false, f.reconcile(ctx, PhaseInstall, f.d.Lab.Nodes, ix)
	})
}

// bootFromDisk makes the node boot its disk from now on: PXE profiles to disk, the virtual CD
// out, the boot device disk (persistent); then ends with then.
func (f *Flow) bootFromDisk(ctx context.Context, n config.Node, then powerStep) error {
	for _, nic := range n.NICs {
		if err := f.d.Boot.SetProfile(string(nic.MAC), ProfileDisk); err != nil {
			return err
		}
	}
	p, ok := f.power(n.Name)
	if !ok {
		return nil // PXE profiles alone boot it from disk
	}
	if e, ok := p.(MediaEjecter); ok && n.BootMethod == config.BootVirtualMedia {
		if err := e.EjectMedia(ctx); err != nil && !errors.Is(err, bmc.ErrNotSupported) {
			return err
		}
	}
	if err := p.SetBootDevice(ctx, bmc.BootOptions{Device: bmc.BootDisk, Persistent: true}); err != nil && !errors.Is(err, bmc.ErrNotSupported) {
		return err
	}
	return endBoot(ctx, p, then)
}

func (f *Flow) fetchCredentials(ctx context.Context) error {
	id := f.State().ClusterID
	kubeconfig, err := f.d.AI.Kubeconfig(ctx, id)
	if err != nil {
		return err
	}
	password, err := f.d.AI.KubeadminPassword(ctx, id)
	if err != nil {
		return err
	}
	for name, content := range map[string][]byte{"kubeconfig": kubeconfig, "kubeadmin-password": password} {
		if err := writePrivate(filepath.Join(f.d.OutputDir, name), content); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	f.event(slog.LevelInfo, "", "kubeconfig and kubeadmin password written to "+f.d.OutputDir)
	return nil
}

// writePrivate writes a file readable only by its owner, atomically.
func writePrivate(path string, content []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(path, content, 0o600)
}

func (f *Flow) verify(ctx context.Context) error {
	c, ix, err := f.clusterObserved(ctx)
	if err != nil {
		return err
	}
	if c.Status != statusInstalled {
		return fmt.Errorf("verify: cluster is %s, want installed", c.Status)
	}
	for _, n := range f.d.Lab.Nodes {
		h := ix.of(n)
		if h == nil || h.Status != statusInstalled {
			status := "missing"
			if h != nil {
				status = h.Status
			}
			return fmt.Errorf("verify: host of %s is %s, want installed", n.Name, status)
		}
	}
	f.event(slog.LevelInfo, "", fmt.Sprintf("cluster %s installed", f.d.Lab.Zone()))
	if f.d.VerifyCluster == nil {
		return nil
	}
	summary, err := f.d.VerifyCluster(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		// It polled until its timeout: the cluster needs a person (a reload starts it again).
		f.event(slog.LevelError, "", err.Error())
		return Permanent(err)
	}
	f.event(slog.LevelInfo, "", summary)
	return nil
}
