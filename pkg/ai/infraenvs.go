package ai

import (
	"context"
	"net/url"
)

// RegisterInfraEnv creates an infra-env (discovery image). Not retried: look it up by
// cluster before trying again.
func (c *Client) RegisterInfraEnv(ctx context.Context, p InfraEnvCreateParams) (*InfraEnv, error) {
	c.secrets.add(p.PullSecret)
	var out InfraEnv
	err := c.call(ctx, request{op: "register infra-env", method: "POST", path: "/v2/infra-envs", body: p}, &out)
	return &out, err
}

// GetInfraEnv reads an infra-env.
func (c *Client) GetInfraEnv(ctx context.Context, id string) (*InfraEnv, error) {
	var out InfraEnv
	err := c.call(ctx, request{op: "get infra-env", method: "GET", path: "/v2/infra-envs/" + url.PathEscape(id), retry: true}, &out)
	return &out, err
}

// ListInfraEnvs lists infra-envs, only those bound to clusterID when it is not empty.
func (c *Client) ListInfraEnvs(ctx context.Context, clusterID string) ([]InfraEnv, error) {
	q := url.Values{}
	if clusterID != "" {
		q.Set("cluster_id", clusterID)
	}
	var out []InfraEnv
	err := c.call(ctx, request{op: "list infra-envs", method: "GET", path: "/v2/infra-envs", query: q, retry: true}, &out)
	return out, err
}

// UpdateInfraEnv PATCHes an infra-env, e.g. its ignition_config_override (see
// IgnitionOverride). Download artifacts only after the last update.
func (c *Client) UpdateInfraEnv(ctx context.Context, id string, p InfraEnvUpdateParams) (*InfraEnv, error) {
	c.secrets.add(p.PullSecret)
	var out InfraEnv
	err := c.call(ctx, request{op: "update infra-env", method: "PATCH", path: "/v2/infra-envs/" + url.PathEscape(id), body: p, retry: true}, &out)
	return &out, err
}

// DeleteInfraEnv deregisters an infra-env.
func (c *Client) DeleteInfraEnv(ctx context.Context, id string) error {
	return c.call(ctx, request{op: "delete infra-env", method: "DELETE", path: "/v2/infra-envs/" + url.PathEscape(id), retry: true}, nil)
}

// ImageURL returns a fresh presigned URL of the discovery ISO.
func (c *Client) ImageURL(ctx context.Context, id string) (*PresignedURL, error) {
	var out PresignedURL
	err := c.call(ctx, request{op: "get image url", method: "GET", path: "/v2/infra-envs/" + url.PathEscape(id) + "/downloads/image-url", retry: true}, &out)
	return &out, err
}

// iPXE script types for IPXEScript.
const (
	IPXEDiscoveryAlways  = "discovery-image-always"
	IPXEBootOrderControl = "boot-order-control"
)

// IPXEScript downloads the infra-env's iPXE script; scriptType may be empty (service
// default) or one of the IPXE* constants, mac selects the per-host answer.
func (c *Client) IPXEScript(ctx context.Context, id, scriptType, mac string) ([]byte, error) {
	q := url.Values{"file_name": {"ipxe-script"}}
	if scriptType != "" {
		q.Set("ipxe_script_type", scriptType)
	}
	if mac != "" {
		q.Set("mac", mac)
	}
	return c.infraEnvFile(ctx, id, q)
}

// DiscoveryIgnition downloads the infra-env's discovery ignition (it includes the override).
func (c *Client) DiscoveryIgnition(ctx context.Context, id string) ([]byte, error) {
	return c.infraEnvFile(ctx, id, url.Values{"file_name": {"discovery.ign"}})
}

func (c *Client) infraEnvFile(ctx context.Context, id string, q url.Values) ([]byte, error) {
	return c.do(ctx, request{op: "download " + q.Get("file_name"), method: "GET",
		path: "/v2/infra-envs/" + url.PathEscape(id) + "/downloads/files", query: q, retry: true,
		accept: "application/octet-stream"})
}
