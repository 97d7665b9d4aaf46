package ai

import (
	"context"
	"net/url"
	"strconv"
	"strings"
)

// Kubeconfig downloads the installed cluster's admin kubeconfig. Secret: never log it.
func (c *Client) Kubeconfig(ctx context.Context, clusterID string) ([]byte, error) {
	return c.credentialsFile(ctx, clusterID, "kubeconfig")
}

// KubeadminPassword downloads the kubeadmin password. Secret: never log it.
func (c *Client) KubeadminPassword(ctx context.Context, clusterID string) ([]byte, error) {
	return c.credentialsFile(ctx, clusterID, "kubeadmin-password")
}

func (c *Client) credentialsFile(ctx context.Context, clusterID, name string) ([]byte, error) {
	return c.do(ctx, request{op: "download " + name, method: "GET",
		path:  "/v2/clusters/" + url.PathEscape(clusterID) + "/downloads/credentials",
		query: url.Values{"file_name": {name}}, retry: true, accept: "application/octet-stream"})
}

// Credentials returns the console URL and kubeadmin user and password.
func (c *Client) Credentials(ctx context.Context, clusterID string) (*Credentials, error) {
	var out Credentials
	err := c.call(ctx, request{op: "get credentials", method: "GET", path: "/v2/clusters/" + url.PathEscape(clusterID) + "/credentials", retry: true}, &out)
	return &out, err
}

// EventsQuery filters Events; zero values are not sent.
type EventsQuery struct {
	ClusterID  string
	InfraEnvID string
	HostID     string
	Severities []string
	Limit      int
	Offset     int
}

// Events lists service events, oldest first.
func (c *Client) Events(ctx context.Context, f EventsQuery) ([]Event, error) {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("cluster_id", f.ClusterID)
	set("infra_env_id", f.InfraEnvID)
	set("host_id", f.HostID)
	if len(f.Severities) > 0 {
		q.Set("severities", strings.Join(f.Severities, ",")) // collectionFormat csv
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	if f.Offset > 0 {
		q.Set("offset", strconv.Itoa(f.Offset))
	}
	var out []Event
	err := c.call(ctx, request{op: "list events", method: "GET", path: "/v2/events", query: q, retry: true}, &out)
	return out, err
}

// OpenshiftVersions lists the versions the service can install, keyed by version;
// version filters by substring when not empty.
func (c *Client) OpenshiftVersions(ctx context.Context, version string, onlyLatest bool) (map[string]OpenshiftVersion, error) {
	q := url.Values{}
	if version != "" {
		q.Set("version", version)
	}
	if onlyLatest {
		q.Set("only_latest", "true")
	}
	out := map[string]OpenshiftVersion{}
	err := c.call(ctx, request{op: "list openshift versions", method: "GET", path: "/v2/openshift-versions", query: q, retry: true}, &out)
	return out, err
}
