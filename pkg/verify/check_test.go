package verify

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func problemsOf(r Report) []string {
	var out []string
	for _, p := range r.Problems {
		out = append(out, p.Kind+" "+p.Object()+" "+p.Reason)
	}
	return out
}

func TestHealthyClusterPasses(t *testing.T) {
	c := healthyCluster()
	r := Check(context.Background(), c.clients(), testExpect())
	if !r.OK() {
		t.Fatalf("healthy cluster: problems %v", problemsOf(r))
	}
	if r.Nodes != 5 || r.Operators != 9 || r.Pods != len(c.pods) || r.PodsOK != len(c.pods) {
		t.Errorf("counts: %d nodes, %d operators, %d/%d pods", r.Nodes, r.Operators, r.PodsOK, r.Pods)
	}
	if len(r.CN2Pods) != 8 { // a vrouter per node, control, k8s-apiserver, deployer
		t.Errorf("CN2 pods: %d, want 8: %v", len(r.CN2Pods), r.CN2Pods)
	}
	if !strings.HasPrefix(r.Summary(), "cluster verified: 5 nodes, 9 cluster operators") {
		t.Errorf("summary %q", r.Summary())
	}
}

func TestFindsWhatIsNotRight(t *testing.T) {
	for _, tc := range []struct {
		name    string
		breakIt func(c *cluster)
		want    []string
	}{
		{"node not ready", func(c *cluster) { notReady(c.node("worker-0")) }, []string{"node worker-0 NotReady"}},
		{"lab node missing", func(c *cluster) {
			c.nodes = slices.DeleteFunc(c.nodes, func(n *corev1.Node) bool { return n.Name == "master-2" })
		},
			[]string{"node master-2 Missing"}},
		{"node not in the lab", func(c *cluster) { c.nodes = append(c.nodes, node("stranger", "worker", nil)) }, []string{"node stranger NotInLab"}},
		{"degraded operator", func(c *cluster) {
			c.operators[2] = operator("dns", true, true, "DNSDegraded", "DNS default is degraded")
		}, []string{"operator dns Degraded"}},
		{"unavailable operator", func(c *cluster) { c.operators[4] = operator("ingress", false, false, "", "") }, []string{"operator ingress NotAvailable"}},
		{"dpdk worker without its labels", func(c *cluster) { delete(c.node("worker-1").Labels, "agent-mode") }, []string{"label worker-1 MissingLabel"}},
		{"crash looping pod", func(c *cluster) {
			p := c.pod("openshift-dns", "dns-default-master-0")
			p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 5m0s restarting failed container"}}
		}, []string{"pod openshift-dns/dns-default-master-0 CrashLoopBackOff"}},
		{"unschedulable pod", func(c *cluster) {
			p := c.pod("contrail", "contrail-control-0")
			p.Status.Phase, p.Status.ContainerStatuses = corev1.PodPending, nil
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: "0/5 nodes are available"}}
		}, []string{"pod contrail/contrail-control-0 Unschedulable"}},
		{"failed pod", func(c *cluster) {
			p := c.pod("openshift-kube-apiserver", "installer-7-master-0")
			p.Status.Phase = corev1.PodFailed
			p.Status.ContainerStatuses[0].State.Terminated = &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error"}
		}, []string{"pod openshift-kube-apiserver/installer-7-master-0 Error"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := healthyCluster()
			tc.breakIt(c)
			r := Check(context.Background(), c.clients(), testExpect())
			if got := problemsOf(r); !slices.Equal(got, tc.want) {
				t.Errorf("problems %v, want %v", got, tc.want)
			}
			if r.OK() {
				t.Error("report OK")
			}
		})
	}
}

func TestImagePullBackOffInCN2NamespaceNamesTheRegistry(t *testing.T) {
	c := healthyCluster()
	imagePullBackOff(c.pod("contrail", "contrail-vrouter-nodes-worker-1"))
	r := Check(context.Background(), c.clients(), testExpect())
	if len(r.Problems) != 1 {
		t.Fatalf("problems %v", problemsOf(r))
	}
	p := r.Problems[0]
	if p.Reason != "ImagePullBackOff" || !p.CN2 || p.Registry != "enterprise-hub.juniper.net" ||
		p.Image != juniper+"contrail-vrouter-agent:23.4.0.284" {
		t.Errorf("problem %+v", p)
	}
	for _, want := range []string{"pull secret's entry for enterprise-hub.juniper.net", "dig @172.16.0.1 -p 53 enterprise-hub.juniper.net"} {
		if !strings.Contains(p.Hint, want) {
			t.Errorf("hint %q lacks %q", p.Hint, want)
		}
	}
	var cn2 *PodStatus
	for i := range r.CN2Pods {
		if r.CN2Pods[i].Name == "contrail-vrouter-nodes-worker-1" {
			cn2 = &r.CN2Pods[i]
		}
	}
	if cn2 == nil || cn2.OK || cn2.Status != "ImagePullBackOff" || cn2.Node != "worker-1" {
		t.Errorf("CN2 pod listed as %+v", cn2)
	}
	var out bytes.Buffer
	if err := WriteTable(&out, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"contrail/contrail-vrouter-nodes-worker-1", "image " + juniper + "contrail-vrouter-agent:23.4.0.284 from enterprise-hub.juniper.net", "hint: check the pull secret"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestPollEndsAtTheTimeoutWithWhatIsStillWrong(t *testing.T) {
	c := healthyCluster()
	notReady(c.node("worker-0"))
	imagePullBackOff(c.pod("contrail", "contrail-control-0"))
	reports := 0
	r, err := Poll(context.Background(), c.clients(), testExpect(), PollOptions{Timeout: 0, Interval: 1, OnReport: func(Report) { reports++ }})
	var nr *NotRightError
	if !errors.As(err, &nr) {
		t.Fatalf("err %v, want a NotRightError", err)
	}
	if reports != 1 || len(r.Problems) != 2 {
		t.Errorf("%d reports, problems %v", reports, problemsOf(r))
	}
	for _, want := range []string{"2 still not right", "node worker-0: NotReady", "pod contrail/contrail-control-0: ImagePullBackOff"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestPollWaitsUntilTheClusterIsRight(t *testing.T) {
	c := healthyCluster()
	notReady(c.node("worker-0"))
	clients := c.clients()
	var reports []Report
	fix := func(r Report) {
		reports = append(reports, r)
		if len(reports) == 1 { // the kubelet comes back between two checks
			nodes := clients.Dynamic.Resource(Nodes)
			n, err := nodes.Get(context.Background(), "worker-0", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			status, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&healthyCluster().node("worker-0").Status)
			if err != nil {
				t.Fatal(err)
			}
			n.Object["status"] = status
			if _, err := nodes.UpdateStatus(context.Background(), n, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	r, err := Poll(context.Background(), clients, testExpect(), PollOptions{Timeout: 10 * time.Minute, Interval: 1, OnReport: fix})
	if err != nil || !r.OK() {
		t.Fatalf("poll: %v, problems %v", err, problemsOf(r))
	}
	if len(reports) != 2 || reports[0].OK() {
		t.Errorf("%d reports, first OK %v", len(reports), reports[0].OK())
	}
}

func TestExpectForReadsTheCN2Namespaces(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"deploy.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: contrail-deploy\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: contrail-deploy-serviceaccount\n  namespace: contrail-deploy\n",
		"ns.json":     `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"contrail-system"}}`,
		"more.yaml":   "kind: Namespace\nmetadata:\n  name: contrail\n---\nkind: Namespace\nmetadata:\n  name: contrail-system\n",
	}
	var rels []string
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		rels = append(rels, name)
	}
	lab := &config.Lab{
		Cluster: config.Cluster{Name: "mycluster", BaseDomain: "contrail.lan", ManifestsDir: dir, Manifests: rels},
		DNS:     config.DNS{Port: 5353},
		Nodes:   []config.Node{{Name: "master-0", Role: config.RoleControlPlane}, {Name: "worker-0", Role: config.RoleWorker, DPDK: true}},
	}
	e, err := ExpectFor(lab)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"contrail", "contrail-deploy", "contrail-system"}; !slices.Equal(e.CN2Namespaces, want) {
		t.Errorf("CN2 namespaces %v, want %v", e.CN2Namespaces, want)
	}
	if len(e.Nodes) != 2 || len(e.Nodes[1].Labels) != len(config.DPDKLabels) || len(e.Nodes[0].Labels) != 0 {
		t.Errorf("nodes %+v", e.Nodes)
	}
}
