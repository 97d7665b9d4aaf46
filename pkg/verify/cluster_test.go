package verify

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynfake "k8s.io/client-go/dynamic/fake"
)

// The objects below are shaped like those of an installed OpenShift 4.14 + CN2 cluster as
// `oc get -o json` shows them (field by field after the API types; written for these tests,
// not recorded from a cluster): nodes with the kubelet's four conditions and the
// installer's role labels, ClusterOperators with Available/Progressing/Degraded/Upgradeable,
// pods with container statuses as the kubelet reports them.

var since = metav1.NewTime(time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC))

// labNodes is the reference lab: three control plane nodes, two workers, worker-1 DPDK.
func testExpect() Expect {
	return Expect{
		Nodes: []ExpectedNode{
			{Name: "master-0"}, {Name: "master-1"}, {Name: "master-2"},
			{Name: "worker-0"},
			{Name: "worker-1", Labels: config.DPDKLabels},
		},
		CN2Namespaces: []string{"contrail", "contrail-deploy", "contrail-system"},
		DNS:           netip.MustParseAddrPort("172.16.0.1:53"),
	}
}

func node(name, role string, extra map[string]string) *corev1.Node {
	labels := map[string]string{
		"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
		"kubernetes.io/arch": "amd64", "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
		"node-role.kubernetes.io/" + role: "", "node.openshift.io/os_id": "rhcos",
	}
	if role == "master" {
		labels["node-role.kubernetes.io/control-plane"] = ""
	}
	for k, v := range extra {
		labels[k] = v
	}
	cond := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg, LastHeartbeatTime: since, LastTransitionTime: since}
	}
	return &corev1.Node{
		TypeMeta:   metav1.TypeMeta{Kind: "Node", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{
				cond(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
				cond(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
				cond(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
				cond(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status"),
			},
			NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.27.6+f67aeb3", OSImage: "Red Hat Enterprise Linux CoreOS 414.92.202310210434-0 (Plow)"},
		},
	}
}

func notReady(n *corev1.Node) {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == corev1.NodeReady {
			n.Status.Conditions[i].Status = corev1.ConditionUnknown
			n.Status.Conditions[i].Reason = "NodeStatusUnknown"
			n.Status.Conditions[i].Message = "Kubelet stopped posting node status."
		}
	}
}

func operator(name string, available, degraded bool, reason, msg string) *unstructured.Unstructured {
	b := func(v bool) string {
		if v {
			return "True"
		}
		return "False"
	}
	c := func(t, s, r, m string) any {
		return map[string]any{"type": t, "status": s, "reason": r, "message": m, "lastTransitionTime": "2026-11-30T10:00:00Z"}
	}
	degReason, degMsg := "AsExpected", "All is well"
	if degraded {
		degReason, degMsg = reason, msg
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "config.openshift.io/v1",
		"kind":       "ClusterOperator",
		"metadata":   map[string]any{"name": name},
		"status": map[string]any{
			"conditions": []any{
				c("Available", b(available), "AsExpected", "All is well"),
				c("Progressing", "False", "AsExpected", "Desired and current number of replicas are equal"),
				c("Degraded", b(degraded), degReason, degMsg),
				c("Upgradeable", "True", "AsExpected", "All is well"),
			},
			"versions": []any{map[string]any{"name": "operator", "version": "4.14.2"}},
		},
	}}
}

func pod(ns, name, nodeName, image string, phase corev1.PodPhase) *corev1.Pod {
	p := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.PodSpec{NodeName: nodeName, Containers: []corev1.Container{{Name: "main", Image: image}}},
		Status: corev1.PodStatus{
			Phase: phase,
			Conditions: []corev1.PodCondition{
				{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: since},
				{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: since},
			},
		},
	}
	cs := corev1.ContainerStatus{Name: "main", Image: image, ImageID: image + "@sha256:0f3c", Ready: phase == corev1.PodRunning}
	switch phase {
	case corev1.PodRunning:
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: since}
		cs.Started = ptr(true)
	case corev1.PodSucceeded:
		cs.State.Terminated = &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", StartedAt: since, FinishedAt: since}
	}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{cs}
	return p
}

func ptr[T any](v T) *T { return &v }

// imagePullBackOff makes a pod wait on its image, as the kubelet reports it.
func imagePullBackOff(p *corev1.Pod) {
	img := p.Status.ContainerStatuses[0].Image
	p.Status.Phase = corev1.PodPending
	p.Status.ContainerStatuses[0] = corev1.ContainerStatus{Name: "main", Image: img, Ready: false, Started: ptr(false),
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff",
			Message: fmt.Sprintf("Back-off pulling image %q", img)}}}
}

const (
	juniper = "enterprise-hub.juniper.net/contrail-container-prod/"
	release = "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:"
)

// cluster is a healthy cluster; change its objects before calling clients.
type cluster struct {
	nodes     []*corev1.Node
	operators []*unstructured.Unstructured
	pods      []*corev1.Pod
}

func healthyCluster() *cluster {
	c := &cluster{}
	for _, m := range []string{"master-0", "master-1", "master-2"} {
		c.nodes = append(c.nodes, node(m, "master", nil))
	}
	c.nodes = append(c.nodes, node("worker-0", "worker", nil),
		node("worker-1", "worker", map[string]string{"agent-mode": "dpdk", "node-role.kubernetes.io/dpdk": ""}))
	for _, op := range []string{"authentication", "console", "dns", "etcd", "ingress", "kube-apiserver", "machine-config", "network", "openshift-apiserver"} {
		c.operators = append(c.operators, operator(op, true, false, "", ""))
	}
	for _, n := range c.nodes {
		c.pods = append(c.pods,
			pod("contrail", "contrail-vrouter-nodes-"+n.Name, n.Name, juniper+"contrail-vrouter-agent:23.4.0.284", corev1.PodRunning),
			pod("openshift-dns", "dns-default-"+n.Name, n.Name, release+"1d5c8e", corev1.PodRunning))
	}
	c.pods = append(c.pods,
		pod("contrail", "contrail-control-0", "master-0", juniper+"contrail-control:23.4.0.284", corev1.PodRunning),
		pod("contrail-system", "contrail-k8s-apiserver-7d9f8c-xkq2p", "master-1", juniper+"contrail-k8s-apiserver:23.4.0.284", corev1.PodRunning),
		pod("contrail-deploy", "contrail-k8s-deployer-5c7b9d-8hxtz", "master-2", juniper+"contrail-k8s-deployer:23.4.0.284", corev1.PodRunning),
		pod("openshift-kube-apiserver", "installer-7-master-0", "master-0", release+"9a1b2c", corev1.PodSucceeded),
	)
	return c
}

func (c *cluster) clients() Clients {
	var objs []runtime.Object
	add := func(o runtime.Object) {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
		if err != nil {
			panic(err)
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
	for _, n := range c.nodes {
		add(n)
	}
	for _, p := range c.pods {
		add(p)
	}
	for _, o := range c.operators {
		objs = append(objs, o)
	}
	dyn := dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		ClusterOperators: "ClusterOperatorList", Nodes: "NodeList", Pods: "PodList"}, objs...)
	return Clients{Dynamic: dyn}
}

func (c *cluster) node(name string) *corev1.Node {
	for _, n := range c.nodes {
		if n.Name == name {
			return n
		}
	}
	panic("no node " + name)
}

func (c *cluster) pod(ns, name string) *corev1.Pod {
	for _, p := range c.pods {
		if p.Namespace == ns && p.Name == name {
			return p
		}
	}
	panic("no pod " + ns + "/" + name)
}
