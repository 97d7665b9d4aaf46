package rehearsal

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/aisim"
	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
	"github.com/cn2-appliance/cn2-appliance/pkg/appliance"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
)

// addDay2 reloads the appliance with full, the installed lab plus the day-2 workers, and
// follows the day-2 flow until they are in the cluster (problem says why not).
func addDay2(ctx context.Context, app *appliance.Appliance, st *store.Store, plan *faultPlan, appDone <-chan error,
	out io.Writer, progress func(), full *config.Lab, day2 []string) (problem string, err error) {
	var added []string
	for _, name := range day2 {
		n := full.Node(name)
		var nics []string
		for _, nic := range n.NICs {
			nics = append(nics, fmt.Sprintf("%s %s %s", nic.Network, nic.MAC, nic.IP))
		}
		added = append(added, fmt.Sprintf("%s (%s)", name, strings.Join(nics, ", ")))
	}
	fmt.Fprintf(out, "rehearsal: installed; adding day-2 worker(s) to the lab and reloading it: %s\n", strings.Join(added, "; "))
	fmt.Fprintf(out, "rehearsal: the cluster API is the simulator's stand-in (no API server runs here): it plays each new worker's kubelet CSRs\n")
	if err := app.Reload(full); err != nil {
		return "", fmt.Errorf("reload with the day-2 workers: %w", err)
	}
	for range 600 { // the reload hands the flow its new lab asynchronously
		if len(app.Flow().Lab().Nodes) == len(full.Nodes) {
			break
		}
		select {
		case <-ctx.Done():
			return "the flow never took the reloaded lab", nil
		case <-time.After(50 * time.Millisecond):
		}
	}
	if problem, err = follow(ctx, app, st, plan, appDone, out, progress); problem != "" || err != nil {
		return problem, err
	}
	if n := len(app.Flow().Day2Nodes()); n > 0 {
		return fmt.Sprintf("the day-2 flow ended with %d worker(s) not in the cluster", n), nil
	}
	return "", nil
}

// joined counts the lab's nodes that are in the cluster: installed with it, or added to it
// and Ready as a node.
// macIndex finds hosts by MAC (lower case), each inventory decoded once; the first host with
// a MAC wins, as ai.HostByMAC's scan would.
func macIndex(hosts []ai.Host) map[string]*ai.Host {
	out := make(map[string]*ai.Host, len(hosts))
	for i := range hosts {
		for _, m := range hosts[i].MACs() {
			if out[m] == nil {
				out[m] = &hosts[i]
			}
		}
	}
	return out
}

func joined(app *appliance.Appliance, sim *aisim.Sim) int {
	f := app.Flow()
	c, err := ai.New(ai.Config{URL: app.Lab().AssistedInstaller.URL, TokenURL: app.Lab().AssistedInstaller.TokenURL,
		OfflineToken: string(app.Lab().AssistedInstaller.OfflineToken.Reveal())})
	if err != nil {
		return 0
	}
	var hosts []ai.Host
	for _, ie := range []string{f.State().InfraEnvID, f.State().Day2InfraEnvID} {
		if ie == "" {
			continue
		}
		hs, err := c.InfraEnvHosts(context.Background(), ie)
		if err != nil {
			return 0
		}
		hosts = append(hosts, hs...)
	}
	byMAC := macIndex(hosts)
	n := 0
	for _, node := range app.Lab().Nodes {
		var h *ai.Host
		for _, nic := range node.NICs {
			if h == nil {
				h = byMAC[strings.ToLower(string(nic.MAC))]
			}
		}
		switch {
		case h == nil:
		case h.Status == "installed":
			n++
		case h.Status == ai.HostAddedToExistingCluster:
			if ready, _, _ := sim.ClusterAPI().NodeReady(context.Background(), node.Name); ready {
				n++
			}
		}
	}
	return n
}
