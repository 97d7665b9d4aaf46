package ai

import (
	"context"
	"encoding/base64"
	"net/url"
)

// Manifest folders.
const (
	FolderManifests = "manifests"
	FolderOpenshift = "openshift"
)

// CreateManifest uploads content (plain bytes; encoded here as standard base64) as
// folder/fileName. fileName has no slashes. Same name in the same folder overwrites, so a
// retry is harmless.
func (c *Client) CreateManifest(ctx context.Context, clusterID, folder, fileName string, content []byte) (*Manifest, error) {
	p := CreateManifestParams{Folder: folder, FileName: fileName, Content: base64.StdEncoding.EncodeToString(content)}
	var out Manifest
	err := c.call(ctx, request{op: "create manifest", method: "POST", path: manifestsPath(clusterID), body: p, retry: true}, &out)
	return &out, err
}

// ListManifests lists the user's manifests of a cluster.
func (c *Client) ListManifests(ctx context.Context, clusterID string) ([]Manifest, error) {
	var out []Manifest
	err := c.call(ctx, request{op: "list manifests", method: "GET", path: manifestsPath(clusterID), retry: true}, &out)
	return out, err
}

// DownloadManifest returns the content of folder/fileName.
func (c *Client) DownloadManifest(ctx context.Context, clusterID, folder, fileName string) ([]byte, error) {
	q := url.Values{"file_name": {fileName}}
	if folder != "" {
		q.Set("folder", folder)
	}
	return c.do(ctx, request{op: "download manifest", method: "GET", path: manifestsPath(clusterID) + "/files",
		query: q, retry: true, accept: "application/octet-stream"})
}

// DeleteManifest removes folder/fileName.
func (c *Client) DeleteManifest(ctx context.Context, clusterID, folder, fileName string) error {
	q := url.Values{"file_name": {fileName}}
	if folder != "" {
		q.Set("folder", folder)
	}
	return c.call(ctx, request{op: "delete manifest", method: "DELETE", path: manifestsPath(clusterID), query: q, retry: true}, nil)
}

func manifestsPath(clusterID string) string {
	return "/v2/clusters/" + url.PathEscape(clusterID) + "/manifests"
}
