package flow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
)

// The infra env is bound to the cluster (early binding), so the installer puts every host
// that boots its image into the cluster, a lab node or not. Late binding would keep strangers
// out, but makes every lab host wait for an explicit bind and changes the hosts' states the
// flow follows; the flow keeps early binding instead, removes strangers from the cluster as it
// finds them, and refuses to start the install while the cluster holds one.

// removeStrangers deletes the installer hosts of the cluster that match no lab node, saying
// which in an event; the machines themselves are not touched.
func (f *Flow) removeStrangers(ctx context.Context, unknown []ai.Host) error {
	for _, h := range unknown {
		if !f.inOurCluster(h) {
			continue
		}
		err := f.d.AI.DeleteHost(ctx, h.InfraEnvID, h.ID)
		if err != nil && !errors.Is(err, ai.ErrNotFound) {
			return fmt.Errorf("remove host %s, which is not a lab node: %w", h.ID, err)
		}
		f.event(slog.LevelWarn, "", "removed a host that is not a lab node from the cluster, so it is never installed: "+describeHost(h))
	}
	return nil
}

func (f *Flow) inOurCluster(h ai.Host) bool {
	id := f.State().ClusterID
	return id != "" && (h.ClusterID == nil || *h.ClusterID == id)
}

// describeHost names a host for the operator: id, MACs and what its inventory says it is.
func describeHost(h ai.Host) string {
	parts := []string{"host " + h.ID}
	if macs := h.MACs(); len(macs) > 0 {
		parts = append(parts, "MACs "+strings.Join(macs, ", "))
	}
	if inv, err := h.ParsedInventory(); err == nil && inv != nil {
		v := inv.SystemVendor
		parts = append(parts, fmt.Sprintf("hostname %q, %s %s (serial %q)", inv.Hostname, v.Manufacturer, v.ProductName, v.SerialNumber))
	}
	return strings.Join(parts, "; ")
}

// strangersInCluster lists the cluster's hosts that match no lab node. A host the flow once
// bound to a lab node (a worker since removed from the lab file) is no stranger, and once the
// cluster is installed nothing is removed: a removed worker is only flagged.
func (f *Flow) strangersInCluster(hosts []ai.Host, ix hostIndex) []ai.Host {
	st := f.State()
	if st.Members != nil {
		return nil
	}
	bound := map[string]bool{}
	for _, id := range st.Hosts {
		bound[id] = true
	}
	lab := f.nodeNames(ix)
	var out []ai.Host
	for i := range hosts {
		if lab[&hosts[i]] == "" && !bound[hosts[i].ID] && f.inOurCluster(hosts[i]) {
			out = append(out, hosts[i])
		}
	}
	return out
}
