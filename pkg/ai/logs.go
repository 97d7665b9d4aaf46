package ai

import (
	"context"
	"net/url"
)

// ClusterLogs downloads the logs the installer holds for a cluster (V2DownloadClusterLogs): a
// tar archive, as the service builds it. logsType is "host", "controller", "all" or "" (the
// service's default); hostID, when set, narrows to one host. Before the hosts upload any, the
// service answers with an error (ErrNotFound or ErrConflict).
func (c *Client) ClusterLogs(ctx context.Context, clusterID, logsType, hostID string) ([]byte, error) {
	q := url.Values{}
	if logsType != "" {
		q.Set("logs_type", logsType)
	}
	if hostID != "" {
		q.Set("host_id", hostID)
	}
	return c.do(ctx, request{op: "download cluster logs", method: "GET",
		path: "/v2/clusters/" + url.PathEscape(clusterID) + "/logs", query: q, retry: true, accept: "application/octet-stream"})
}
