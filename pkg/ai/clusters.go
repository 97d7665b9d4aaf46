package ai

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
)

// RegisterCluster creates a cluster (POST /v2/clusters). Not retried: a repeat could
// register a second cluster; callers look the cluster up by name before trying again.
func (c *Client) RegisterCluster(ctx context.Context, p ClusterCreateParams) (*Cluster, error) {
	c.secrets.add(p.PullSecret)
	var out Cluster
	err := c.call(ctx, request{op: "register cluster", method: "POST", path: "/v2/clusters", body: p}, &out)
	return &out, err
}

// GetCluster reads a cluster with its hosts unless excludeHosts.
func (c *Client) GetCluster(ctx context.Context, id string, excludeHosts bool) (*Cluster, error) {
	q := url.Values{}
	if excludeHosts {
		q.Set("exclude-hosts", "true")
	}
	var out Cluster
	err := c.call(ctx, request{op: "get cluster", method: "GET", path: "/v2/clusters/" + url.PathEscape(id), query: q, retry: true}, &out)
	return &out, err
}

// ListClusters lists the user's clusters (without hosts unless withHosts).
func (c *Client) ListClusters(ctx context.Context, withHosts bool) ([]Cluster, error) {
	q := url.Values{}
	if withHosts {
		q.Set("with_hosts", "true")
	}
	var out []Cluster
	err := c.call(ctx, request{op: "list clusters", method: "GET", path: "/v2/clusters", query: q, retry: true}, &out)
	return out, err
}

// FindClusterByName returns the clusters called name (normally zero or one).
func (c *Client) FindClusterByName(ctx context.Context, name string) ([]Cluster, error) {
	all, err := c.ListClusters(ctx, false)
	if err != nil {
		return nil, err
	}
	var out []Cluster
	for _, cl := range all {
		if cl.Name == name {
			out = append(out, cl)
		}
	}
	return out, nil
}

// UpdateCluster PATCHes the fields set in p and returns the cluster as the service stored it
// (re-read it: the service may ignore what it does not know).
func (c *Client) UpdateCluster(ctx context.Context, id string, p ClusterUpdateParams) (*Cluster, error) {
	if p.PullSecret != nil {
		c.secrets.add(*p.PullSecret)
	}
	var out Cluster
	err := c.call(ctx, request{op: "update cluster", method: "PATCH", path: "/v2/clusters/" + url.PathEscape(id), body: p, retry: true}, &out)
	return &out, err
}

// DeleteCluster deregisters a cluster.
func (c *Client) DeleteCluster(ctx context.Context, id string) error {
	return c.call(ctx, request{op: "delete cluster", method: "DELETE", path: "/v2/clusters/" + url.PathEscape(id), retry: true}, nil)
}

// InstallCluster starts the installation; a cluster that is not ready answers 409
// (errors.Is(err, ErrConflict)). Not retried.
func (c *Client) InstallCluster(ctx context.Context, id string) (*Cluster, error) {
	return c.action(ctx, "install cluster", id, "install")
}

// CancelInstallation stops a running installation.
func (c *Client) CancelInstallation(ctx context.Context, id string) (*Cluster, error) {
	return c.action(ctx, "cancel installation", id, "cancel")
}

// ResetCluster returns a cancelled or failed cluster to its pre-install state.
func (c *Client) ResetCluster(ctx context.Context, id string) (*Cluster, error) {
	return c.action(ctx, "reset cluster", id, "reset")
}

func (c *Client) action(ctx context.Context, op, id, action string) (*Cluster, error) {
	var out Cluster
	err := c.call(ctx, request{op: op, method: "POST", path: "/v2/clusters/" + url.PathEscape(id) + "/actions/" + action}, &out)
	return &out, err
}

// GetInstallConfig returns the install-config YAML the service would generate now.
func (c *Client) GetInstallConfig(ctx context.Context, id string) (string, error) {
	var out string
	err := c.call(ctx, request{op: "get install-config", method: "GET", path: "/v2/clusters/" + url.PathEscape(id) + "/install-config", retry: true}, &out)
	return out, err
}

// UpdateInstallConfig replaces the cluster's whole install-config override with overrides,
// JSON object text (see InstallConfigOverride). The wire body is that text as a JSON string.
func (c *Client) UpdateInstallConfig(ctx context.Context, id, overrides string) error {
	if !json.Valid([]byte(overrides)) {
		return fmt.Errorf("ai: update install-config: override is not JSON")
	}
	body, err := json.Marshal(overrides)
	if err != nil {
		return err
	}
	return c.call(ctx, request{op: "update install-config", method: "PATCH", path: "/v2/clusters/" + url.PathEscape(id) + "/install-config", raw: body, retry: true}, nil)
}

// ClusterHosts lists a cluster's hosts; role filters when not empty.
func (c *Client) ClusterHosts(ctx context.Context, clusterID, role string) ([]Host, error) {
	q := url.Values{}
	if role != "" {
		q.Set("role", role)
	}
	q.Set("with-inventory", "true")
	var out []Host
	err := c.call(ctx, request{op: "list cluster hosts", method: "GET", path: "/v2/clusters/" + url.PathEscape(clusterID) + "/hosts", query: q, retry: true}, &out)
	return out, err
}

// call runs do and decodes a JSON answer into out (when out is not nil).
func (c *Client) call(ctx context.Context, req request, out any) error {
	data, err := c.do(ctx, req)
	if err != nil {
		return err
	}
	if out == nil || len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("ai: %s: decode answer: %w", req.op, err)
	}
	return nil
}
