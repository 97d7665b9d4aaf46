// Package verify checks an installed cluster through its API, as the runbook's last steps do:
// every lab node is a Kubernetes node and Ready, every ClusterOperator is Available and not
// Degraded, every pod is Running or Succeeded (the CN2 pods listed on their own), and the DPDK
// workers carry their labels. It reaches the API by the name in the kubeconfig
// (api.<cluster>.<baseDomain>) resolved through the appliance's own DNS. It only reads the
// cluster; it changes nothing in it. It is the one package that links client-go: keep it out
// of packages that do not verify.
package verify

import (
	"fmt"
	"strings"
	"time"
)

// Problem kinds.
const (
	KindAPI      = "api"
	KindNode     = "node"
	KindLabel    = "label"
	KindOperator = "operator"
	KindPod      = "pod"
)

// Problem is one thing that is not right yet.
type Problem struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	// CN2 says the pod is in a namespace the CN2 manifests create.
	CN2     bool   `json:"cn2,omitempty"`
	Reason  string `json:"reason"` // NotReady, Degraded, ImagePullBackOff, ...
	Message string `json:"message,omitempty"`
	// Image and Registry are set for image pull failures.
	Image    string `json:"image,omitempty"`
	Registry string `json:"registry,omitempty"`
	Hint     string `json:"hint,omitempty"`
}

// Object is the problem's object as `oc` names it: worker-0, contrail/vrouter-abc.
func (p Problem) Object() string {
	if p.Namespace != "" {
		return p.Namespace + "/" + p.Name
	}
	return p.Name
}

func (p Problem) String() string {
	s := fmt.Sprintf("%s %s: %s", p.Kind, p.Object(), p.Reason)
	if p.Message != "" {
		s += " (" + p.Message + ")"
	}
	return s
}

// PodStatus is one pod as `oc get pods` shows it.
type PodStatus struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Node      string `json:"node,omitempty"`
	Status    string `json:"status"` // Running, Succeeded, or what is wrong (ImagePullBackOff, ...)
	OK        bool   `json:"ok"`
}

// Report is the result of one check of the cluster.
type Report struct {
	Time      time.Time   `json:"time"`
	Nodes     int         `json:"nodes"`     // Kubernetes nodes seen
	Operators int         `json:"operators"` // ClusterOperators seen
	Pods      int         `json:"pods"`      // pods seen
	PodsOK    int         `json:"podsOK"`    // of them Running or Succeeded
	CN2Pods   []PodStatus `json:"cn2Pods"`   // the pods in the CN2 namespaces
	Problems  []Problem   `json:"problems"`
	// Skipped says why the cluster's API was not checked at all ("" when it was).
	Skipped string `json:"skipped,omitempty"`
}

// OK says the cluster is as the runbook wants it.
func (r Report) OK() bool { return r.Skipped == "" && len(r.Problems) == 0 }

// Summary is the report in one line.
func (r Report) Summary() string {
	if r.Skipped != "" {
		return "cluster API not checked: " + r.Skipped
	}
	counts := fmt.Sprintf("%d nodes, %d cluster operators, %d/%d pods Running or Succeeded (%d CN2)",
		r.Nodes, r.Operators, r.PodsOK, r.Pods, len(r.CN2Pods))
	if len(r.Problems) == 0 {
		return "cluster verified: " + counts
	}
	return fmt.Sprintf("%d not right yet (%s): %s", len(r.Problems), counts, firstProblems(r.Problems, 3))
}

func firstProblems(ps []Problem, n int) string {
	var parts []string
	for i, p := range ps {
		if i == n {
			parts = append(parts, fmt.Sprintf("and %d more", len(ps)-n))
			break
		}
		parts = append(parts, p.String())
	}
	return strings.Join(parts, "; ")
}
