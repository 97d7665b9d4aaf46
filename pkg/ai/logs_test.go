package ai_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
)

// checkClusterLogs reads an installed cluster's logs: every host's and the controller's, one
// host's, and a host that is not there.
func checkClusterLogs(t *testing.T, c *ai.Client, clusterID string, hosts int) {
	t.Helper()
	ctx := context.Background()
	names := func(b []byte) []string {
		gz, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("logs are not gzip: %v", err)
		}
		tr := tar.NewReader(gz)
		var out []string
		for {
			h, err := tr.Next()
			if err == io.EOF {
				return out
			}
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, h.Name)
		}
	}
	all, err := c.ClusterLogs(ctx, clusterID, "all", "")
	if err != nil {
		t.Fatalf("cluster logs: %v", err)
	}
	got := names(all)
	if len(got) != hosts+1 || !strings.HasPrefix(got[len(got)-1], "controller_logs/") {
		t.Errorf("all logs hold %v, want %d hosts' and the controller's", got, hosts)
	}
	hostID := strings.TrimSuffix(got[0][strings.Index(got[0], "_")+1:], "/agent.log")
	one, err := c.ClusterLogs(ctx, clusterID, "host", hostID)
	if err != nil || len(names(one)) != 1 {
		t.Errorf("one host's logs: %v %v", names(one), err)
	}
	if _, err := c.ClusterLogs(ctx, clusterID, "host", "00000000-0000-0000-0000-000000000000"); !errors.Is(err, ai.ErrNotFound) {
		t.Errorf("logs of a host not in the cluster: %v, want 404", err)
	}
}
