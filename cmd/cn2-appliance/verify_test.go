package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// fakeAPI answers the three lists verify makes, as a cluster's API server does: the example
// lab's nodes (worker-0 NotReady unless ready), one ClusterOperator, one CN2 pod.
func fakeAPI(t *testing.T, ready bool) *httptest.Server {
	t.Helper()
	var nodes corev1.NodeList
	for _, name := range []string{"master-0", "master-1", "master-2", "worker-0", "worker-1"} {
		status := corev1.ConditionTrue
		if name == "worker-0" && !ready {
			status = corev1.ConditionFalse
		}
		n := corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status, Reason: "KubeletNotReady", Message: "container runtime network not ready"}}}}
		if name == "worker-1" {
			n.Labels["agent-mode"], n.Labels["node-role.kubernetes.io/dpdk"] = "dpdk", ""
		}
		nodes.Items = append(nodes.Items, n)
	}
	pods := corev1.PodList{Items: []corev1.Pod{{ObjectMeta: metav1.ObjectMeta{Namespace: "contrail", Name: "contrail-control-0"},
		Status: corev1.PodStatus{Phase: corev1.PodRunning}}}}
	operators := map[string]any{"apiVersion": "config.openshift.io/v1", "kind": "ClusterOperatorList", "items": []any{
		map[string]any{"apiVersion": "config.openshift.io/v1", "kind": "ClusterOperator", "metadata": map[string]any{"name": "network"},
			"status": map[string]any{"conditions": []any{
				map[string]any{"type": "Available", "status": "True"}, map[string]any{"type": "Degraded", "status": "False"}}}}}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		var body any
		switch r.URL.Path {
		case "/api/v1/nodes":
			nodes.Kind, nodes.APIVersion = "NodeList", "v1"
			body = nodes
		case "/api/v1/pods":
			pods.Kind, pods.APIVersion = "PodList", "v1"
			body = pods
		case "/apis/config.openshift.io/v1/clusteroperators":
			body = operators
		default:
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func writeKubeconfig(t *testing.T, stateDir, server string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(stateDir, "auth"), 0o700); err != nil {
		t.Fatal(err)
	}
	kc := fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: %s\n  name: c\ncontexts:\n- context:\n    cluster: c\n    user: u\n  name: x\ncurrent-context: x\nusers:\n- name: u\n  user:\n    token: t\n", server)
	if err := os.WriteFile(filepath.Join(stateDir, "auth", "kubeconfig"), []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyCommand(t *testing.T) {
	for _, tc := range []struct {
		ready bool
		code  int
		want  []string
	}{
		{true, 0, []string{"cluster verified: 5 nodes, 1 cluster operators, 1/1 pods Running or Succeeded (1 CN2)", "contrail/contrail-control-0"}},
		{false, 1, []string{"1 not right yet", "node  worker-0", "NotReady", "KubeletNotReady: container runtime network not ready"}},
	} {
		state := t.TempDir()
		// An address, not a name: the appliance's DNS is not serving in this test.
		writeKubeconfig(t, state, fakeAPI(t, tc.ready).URL)
		out, errOut, code := run(t, "verify", "-c", exampleLab, "--state-dir", state)
		if code != tc.code {
			t.Errorf("ready %v: exit %d, want %d\n%s%s", tc.ready, code, tc.code, out, errOut)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("ready %v: output lacks %q:\n%s", tc.ready, w, out)
			}
		}
	}
}

func TestVerifyCommandWithoutKubeconfig(t *testing.T) {
	_, errOut, code := run(t, "verify", "-c", exampleLab, "--state-dir", t.TempDir())
	if code != 1 || !strings.Contains(errOut, "verify: read kubeconfig") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}
