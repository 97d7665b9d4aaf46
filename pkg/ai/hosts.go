package ai

import (
	"context"
	"net/url"
)

// InfraEnvHosts lists the hosts that booted an infra-env's image.
func (c *Client) InfraEnvHosts(ctx context.Context, infraEnvID string) ([]Host, error) {
	var out []Host
	err := c.call(ctx, request{op: "list hosts", method: "GET", path: "/v2/infra-envs/" + url.PathEscape(infraEnvID) + "/hosts", retry: true}, &out)
	return out, err
}

// GetHost reads one host.
func (c *Client) GetHost(ctx context.Context, infraEnvID, hostID string) (*Host, error) {
	var out Host
	err := c.call(ctx, request{op: "get host", method: "GET", path: hostPath(infraEnvID, hostID), retry: true}, &out)
	return &out, err
}

// UpdateHost sets a host's name, role and/or node labels (the fields set in p).
func (c *Client) UpdateHost(ctx context.Context, infraEnvID, hostID string, p HostUpdateParams) (*Host, error) {
	var out Host
	err := c.call(ctx, request{op: "update host", method: "PATCH", path: hostPath(infraEnvID, hostID), body: p, retry: true}, &out)
	return &out, err
}

// DeleteHost deregisters a host.
func (c *Client) DeleteHost(ctx context.Context, infraEnvID, hostID string) error {
	return c.call(ctx, request{op: "delete host", method: "DELETE", path: hostPath(infraEnvID, hostID), retry: true}, nil)
}

func hostPath(infraEnvID, hostID string) string {
	return "/v2/infra-envs/" + url.PathEscape(infraEnvID) + "/hosts/" + url.PathEscape(hostID)
}

// HostByMAC returns the host among hosts that has a NIC with mac, or nil.
func HostByMAC(hosts []Host, mac string) *Host {
	for i := range hosts {
		if hosts[i].HasMAC(mac) {
			return &hosts[i]
		}
	}
	return nil
}
