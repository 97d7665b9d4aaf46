package appliance

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/testlab"
	"github.com/cn2-appliance/cn2-appliance/pkg/liveness"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
)

// readyAfterFirstList is an API server whose worker-0 is NotReady in the first node list and
// Ready from then on; its one ClusterOperator is Available and it has no pods.
func readyAfterFirstList(t *testing.T) *httptest.Server {
	var lists atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		var items []any
		kind := ""
		switch r.URL.Path {
		case "/api/v1/nodes":
			kind = "NodeList"
			first := lists.Add(1) == 1
			for _, n := range []string{"master-0", "master-1", "master-2", "worker-0", "worker-1"} {
				ready := "True"
				if n == "worker-0" && first {
					ready = "False"
				}
				labels := map[string]any{}
				if n == "worker-1" {
					labels = map[string]any{"agent-mode": "dpdk", "node-role.kubernetes.io/dpdk": ""}
				}
				items = append(items, map[string]any{"apiVersion": "v1", "kind": "Node", "metadata": map[string]any{"name": n, "labels": labels},
					"status": map[string]any{"conditions": []any{map[string]any{"type": "Ready", "status": ready, "reason": "KubeletNotReady"}}}})
			}
		case "/api/v1/pods":
			kind = "PodList"
		case "/apis/config.openshift.io/v1/clusteroperators":
			kind = "ClusterOperatorList"
			items = append(items, map[string]any{"apiVersion": "config.openshift.io/v1", "kind": "ClusterOperator", "metadata": map[string]any{"name": "network"},
				"status": map[string]any{"conditions": []any{map[string]any{"type": "Available", "status": "True"}}}})
		default:
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"apiVersion": "v1", "kind": kind, "metadata": map[string]any{}, "items": items})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestVerifyClusterKeepsTheReportAndRecordsEvents(t *testing.T) {
	lab := testlab.Example(t)
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a := &Appliance{log: slog.New(slog.DiscardHandler), store: st, live: liveness.New(0), opts: Options{PollInterval: time.Millisecond}}
	// The API by address: no DNS name to resolve in this test (pkg/verify tests the DNS path).
	kc := fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: %s\n  name: c\ncontexts:\n- context:\n    cluster: c\n    user: u\n  name: x\ncurrent-context: x\nusers:\n- name: u\n  user:\n    token: t\n", readyAfterFirstList(t).URL)
	if err := os.MkdirAll(filepath.Dir(KubeconfigFile(a.stateDir())), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(KubeconfigFile(a.stateDir()), []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	if a.verifyView() != nil {
		t.Fatal("a verify section before any verification")
	}
	summary, err := a.verifyCluster(lab)(context.Background())
	if err != nil || !strings.HasPrefix(summary, "cluster verified: 5 nodes, 1 cluster operators") {
		t.Fatalf("verify: %q, %v", summary, err)
	}
	v := a.verifyView()
	if v == nil || !v.Passed || len(v.Problems) != 0 {
		t.Errorf("status view %+v", v)
	}
	events, err := st.Events(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var said []string
	for _, e := range events {
		said = append(said, e.Message)
	}
	if len(said) != 1 || !strings.Contains(said[0], "verify: 1 not right yet") || !strings.Contains(said[0], "node worker-0: NotReady") {
		t.Errorf("events %q, want one saying worker-0 is not ready", said)
	}
}

func TestVerifyClusterWithoutAClusterAPISaysSo(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a := &Appliance{log: slog.New(slog.DiscardHandler), store: st, live: liveness.New(0), opts: Options{NoClusterAPI: true}}
	summary, err := a.verifyCluster(testlab.Example(t))(context.Background())
	if err != nil || !strings.HasPrefix(summary, "cluster API not checked: the simulated cluster has no API server") {
		t.Fatalf("verify: %q, %v", summary, err)
	}
	if v := a.verifyView(); v == nil || v.Passed || v.Skipped == "" {
		t.Errorf("status view %+v: want not passed, skipped", v)
	}
}
