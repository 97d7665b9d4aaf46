// Package nodejoin is what the day-2 flow needs of an installed cluster's Kubernetes API to let
// a new worker join: the node CSRs waiting for approval (the runbook's "approve the node"
// step), their approval, and whether the node is Ready. The kubeapi subpackage implements it
// with client-go's certificates/v1 and core/v1 APIs; internal/aisim has a stand-in for the
// rehearsal, which runs no API server.
package nodejoin

import "context"

// CSR kinds: a new node first asks for its kubelet's client certificate (through the
// machine-config bootstrap account), then, once a node, for its serving certificate.
const (
	KindClient  = "client"
	KindServing = "serving"
)

// BootstrapperUser is who submits a new node's client CSR on OpenShift.
const BootstrapperUser = "system:serviceaccount:openshift-machine-config-operator:node-bootstrapper"

// CSR is a pending certificate signing request for a node's kubelet, as the API checked it:
// Node is the node name it asks a certificate for (system:node:<name>), known from both the
// request's subject and who submitted it.
type CSR struct {
	Name string
	Node string
	Kind string
}

// API is the cluster API the day-2 flow uses.
type API interface {
	// PendingNodeCSRs lists the node CSRs neither approved nor denied yet.
	PendingNodeCSRs(ctx context.Context) ([]CSR, error)
	// ApproveCSR approves one CSR, saying why.
	ApproveCSR(ctx context.Context, name, reason string) error
	// NodeReady says whether the node exists and whether its Ready condition is True.
	NodeReady(ctx context.Context, node string) (ready, exists bool, err error)
}
