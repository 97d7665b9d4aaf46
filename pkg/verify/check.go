package verify

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/cn2-appliance/cn2-appliance/internal/imageref"
)

// The resources verify reads. Everything goes through the dynamic client: ClusterOperators
// without OpenShift's client module, and nodes and pods without client-go's typed clientset,
// which links every API group (about 190 more packages, twice the binary).
var (
	ClusterOperators = schema.GroupVersionResource{Group: "config.openshift.io", Version: "v1", Resource: "clusteroperators"}
	Nodes            = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}
	Pods             = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
)

// Clients reach one cluster's API.
type Clients struct {
	Dynamic dynamic.Interface
}

// list lists a resource and converts the items to T (corev1.Node, corev1.Pod).
func list[T any](ctx context.Context, c Clients, gvr schema.GroupVersionResource) ([]T, error) {
	l, err := c.Dynamic.Resource(gvr).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := make([]T, len(l.Items))
	for i := range l.Items {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(l.Items[i].Object, &out[i]); err != nil {
			return nil, fmt.Errorf("decode %s %s: %w", gvr.Resource, l.Items[i].GetName(), err)
		}
	}
	return out, nil
}

// Check looks at the cluster once and reports everything that is not as e wants it.
func Check(ctx context.Context, c Clients, e Expect) Report {
	r := Report{Time: time.Now(), CN2Pods: []PodStatus{}, Problems: []Problem{}}
	checkNodes(ctx, c, e, &r)
	checkOperators(ctx, c, &r)
	checkPods(ctx, c, e, &r)
	return r
}

func apiProblem(what string, err error) Problem {
	return Problem{Kind: KindAPI, Name: what, Reason: "Unreachable", Message: err.Error(),
		Hint: "the API answers at the kubeconfig's server (api.<cluster>.<baseDomain>:6443) once the control plane is up; check that the appliance's DNS resolves it to the API VIP"}
}

func checkNodes(ctx context.Context, c Clients, e Expect, r *Report) {
	nodes, err := list[corev1.Node](ctx, c, Nodes)
	if err != nil {
		r.Problems = append(r.Problems, apiProblem("nodes", fmt.Errorf("list nodes: %w", err)))
		return
	}
	r.Nodes = len(nodes)
	matched := map[string]bool{}
	for _, want := range e.Nodes {
		n := findNode(nodes, want.Name)
		if n == nil {
			r.Problems = append(r.Problems, Problem{Kind: KindNode, Name: want.Name, Reason: "Missing",
				Message: "no Kubernetes node of this name", Hint: "a worker joins once its node CSRs are approved (oc get csr)"})
			continue
		}
		matched[n.Name] = true
		if ok, why := nodeReady(n); !ok {
			r.Problems = append(r.Problems, Problem{Kind: KindNode, Name: want.Name, Reason: "NotReady", Message: why})
		}
		for _, l := range want.Labels {
			if v, ok := n.Labels[l.Key]; !ok || v != l.Value {
				r.Problems = append(r.Problems, Problem{Kind: KindLabel, Name: want.Name, Reason: "MissingLabel",
					Message: fmt.Sprintf("lacks label %s=%s", l.Key, l.Value),
					Hint:    fmt.Sprintf("oc label node %s %s=%s", n.Name, l.Key, l.Value)})
			}
		}
	}
	for _, n := range nodes {
		if !matched[n.Name] {
			r.Problems = append(r.Problems, Problem{Kind: KindNode, Name: n.Name, Reason: "NotInLab",
				Message: "a Kubernetes node that is no node of the lab file"})
		}
	}
}

// findNode finds a lab node's Kubernetes node: by its name, or by a fully qualified name
// that begins with it.
func findNode(nodes []corev1.Node, name string) *corev1.Node {
	for i := range nodes {
		if nodes[i].Name == name || strings.HasPrefix(nodes[i].Name, name+".") {
			return &nodes[i]
		}
	}
	return nil
}

func nodeReady(n *corev1.Node) (bool, string) {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			if c.Status == corev1.ConditionTrue {
				return true, ""
			}
			return false, strings.TrimSpace(c.Reason + ": " + c.Message)
		}
	}
	return false, "no Ready condition yet"
}

func checkOperators(ctx context.Context, c Clients, r *Report) {
	ops, err := c.Dynamic.Resource(ClusterOperators).List(ctx, metav1.ListOptions{})
	if err != nil {
		r.Problems = append(r.Problems, apiProblem("clusteroperators", fmt.Errorf("list cluster operators: %w", err)))
		return
	}
	r.Operators = len(ops.Items)
	if len(ops.Items) == 0 {
		r.Problems = append(r.Problems, Problem{Kind: KindOperator, Name: "clusteroperators", Reason: "None",
			Message: "the cluster lists no ClusterOperators yet"})
	}
	for _, op := range ops.Items {
		conds := operatorConditions(op)
		if a := conds["Available"]; a.status != "True" {
			r.Problems = append(r.Problems, Problem{Kind: KindOperator, Name: op.GetName(), Reason: "NotAvailable", Message: a.text()})
		}
		if d := conds["Degraded"]; d.status == "True" {
			r.Problems = append(r.Problems, Problem{Kind: KindOperator, Name: op.GetName(), Reason: "Degraded", Message: d.text()})
		}
	}
}

type condition struct{ status, reason, message string }

func (c condition) text() string {
	if c.status == "" {
		return "condition not reported"
	}
	return strings.Trim(c.reason+": "+c.message, ": ")
}

func operatorConditions(op unstructured.Unstructured) map[string]condition {
	out := map[string]condition{}
	list, _, _ := unstructured.NestedSlice(op.Object, "status", "conditions")
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			continue
		}
		s := func(k string) string { v, _ := m[k].(string); return v }
		out[s("type")] = condition{status: s("status"), reason: s("reason"), message: s("message")}
	}
	return out
}

func checkPods(ctx context.Context, c Clients, e Expect, r *Report) {
	pods, err := list[corev1.Pod](ctx, c, Pods)
	if err != nil {
		r.Problems = append(r.Problems, apiProblem("pods", fmt.Errorf("list pods: %w", err)))
		return
	}
	r.Pods = len(pods)
	for i := range pods {
		p := &pods[i]
		cn2 := slices.Contains(e.CN2Namespaces, p.Namespace)
		prob := podProblem(p, e)
		status := string(p.Status.Phase)
		if prob == nil {
			r.PodsOK++
		} else {
			prob.CN2 = cn2
			status = prob.Reason
			r.Problems = append(r.Problems, *prob)
		}
		if cn2 {
			r.CN2Pods = append(r.CN2Pods, PodStatus{Namespace: p.Namespace, Name: p.Name, Node: p.Spec.NodeName, Status: status, OK: prob == nil})
		}
	}
}

// imagePullReasons are the container waiting reasons of a failed image pull.
var imagePullReasons = []string{"ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull"}

// podProblem says what is wrong with a pod, as `oc get pods` would show it, or nil when it is
// Succeeded, or Running with no container waiting or failed.
func podProblem(p *corev1.Pod, e Expect) *Problem {
	prob := &Problem{Kind: KindPod, Namespace: p.Namespace, Name: p.Name}
	if p.Status.Phase == corev1.PodSucceeded {
		return nil
	}
	statuses := [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses}
	for i, list := range statuses {
		prefix := ""
		if i == 0 {
			prefix = "Init:"
		}
		for _, cs := range list {
			switch {
			case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
				w := cs.State.Waiting
				prob.Reason, prob.Message = prefix+w.Reason, "container "+cs.Name+": "+w.Message
				if slices.Contains(imagePullReasons, w.Reason) {
					prob.Image, prob.Registry = cs.Image, imageref.Registry(cs.Image)
					prob.Hint = pullHint(prob.Registry, e)
				}
				return prob
			case cs.State.Terminated != nil && cs.State.Terminated.ExitCode != 0 && (i == 1 || p.Status.Phase != corev1.PodRunning):
				t := cs.State.Terminated
				prob.Reason = prefix + orDefault(t.Reason, "Error")
				prob.Message = fmt.Sprintf("container %s exited %d: %s", cs.Name, t.ExitCode, t.Message)
				return prob
			}
		}
	}
	if p.Status.Phase == corev1.PodRunning {
		return nil
	}
	prob.Reason = orDefault(p.Status.Reason, orDefault(string(p.Status.Phase), "Unknown"))
	prob.Message = p.Status.Message
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			prob.Reason, prob.Message = orDefault(c.Reason, "Unschedulable"), c.Message
		}
	}
	return prob
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func pullHint(registry string, e Expect) string {
	host := imageref.LookupHost(registry)
	dig := "dig " + host
	if e.DNS.IsValid() {
		dig = fmt.Sprintf("dig @%s -p %d %s", e.DNS.Addr(), e.DNS.Port(), host)
	}
	return fmt.Sprintf("check the pull secret's entry for %s (cluster.pullSecretFile; `cn2-appliance doctor` checks it) and that the appliance's DNS resolves %s (%s)",
		registry, host, dig)
}
