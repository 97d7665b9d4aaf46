package ai

import (
	"context"
)

// Day-2: adding hosts to an installed cluster (the spec's allow-add-hosts and install host).
const (
	// ClusterAddingHosts is the status of a cluster that accepts day-2 hosts.
	ClusterAddingHosts = "adding-hosts"
	// KindAddHostsCluster is the kind of a day-2 cluster (installed, then allowed to add hosts,
	// or imported).
	KindAddHostsCluster = "AddHostsCluster"
	// KindAddToExistingClusterHost is the kind of a host that registered with a day-2 cluster.
	KindAddToExistingClusterHost = "AddToExistingClusterHost"
	// HostAddedToExistingCluster is the last status of a day-2 host: the installer has written
	// its disk and rebooted it; the cluster must approve its node's CSRs for it to join.
	HostAddedToExistingCluster = "added-to-existing-cluster"
	// HostKnown is the status of a host ready to install.
	HostKnown = "known"
)

// AllowAddHosts turns an installed cluster into one that accepts day-2 hosts (operation
// TransformClusterToAddingHosts): same id, kind AddHostsCluster, status adding-hosts. The
// service refuses a cluster that is not installed or already a day-2 one. Not retried.
func (c *Client) AllowAddHosts(ctx context.Context, id string) (*Cluster, error) {
	return c.action(ctx, "allow adding hosts", id, "allow-add-hosts")
}

// InstallHost installs one known day-2 host (operation v2InstallHost): the service writes its
// disk with the cluster's worker ignition. Not retried: a lost answer is seen in the host's
// status on the next poll.
func (c *Client) InstallHost(ctx context.Context, infraEnvID, hostID string) (*Host, error) {
	var out Host
	err := c.call(ctx, request{op: "install host", method: "POST", path: hostPath(infraEnvID, hostID) + "/actions/install"}, &out)
	return &out, err
}

// IsDay2 says whether a host registered with a day-2 cluster.
func (h *Host) IsDay2() bool { return h.Kind == KindAddToExistingClusterHost }
