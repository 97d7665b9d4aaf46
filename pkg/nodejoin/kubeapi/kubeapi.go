// Package kubeapi is nodejoin.API on a real cluster, with client-go: node CSRs through the
// certificates/v1 API, readiness through core/v1 nodes. It talks through client-go's dynamic
// client and converts to the typed objects it reads: the typed clientset
// (k8s.io/client-go/kubernetes) would add every API group of Kubernetes to the binary, about
// 190 packages, for the two it uses.
package kubeapi

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"

	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/cn2-appliance/cn2-appliance/pkg/nodejoin"
)

// Signers of the kubelet's certificates.
const (
	clientSigner  = "kubernetes.io/kube-apiserver-client-kubelet"
	servingSigner = "kubernetes.io/kubelet-serving"
	nodePrefix    = "system:node:"
	nodesGroup    = "system:nodes"
)

// The resources it reads and writes.
var (
	csrResource  = schema.GroupVersionResource{Group: "certificates.k8s.io", Version: "v1", Resource: "certificatesigningrequests"}
	nodeResource = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}
)

// Client is the cluster API of one kubeconfig.
type Client struct{ k dynamic.Interface }

// New wraps a dynamic client (a fake one in tests).
func New(k dynamic.Interface) *Client { return &Client{k: k} }

// FromKubeconfigFile opens the API the kubeconfig at path names.
func FromKubeconfigFile(path string) (*Client, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("kubeapi: load %s: %w", path, err)
	}
	k, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubeapi: client for %s: %w", cfg.Host, err)
	}
	return New(k), nil
}

// PendingNodeCSRs lists the kubelet CSRs neither approved nor denied, each checked as the
// runbook's approval asks: a client CSR comes from the node bootstrapper and asks for
// system:node:<name> in system:nodes; a serving CSR comes from the node itself and names it
// too. Any other CSR is left out: it is none of the appliance's business.
func (c *Client) PendingNodeCSRs(ctx context.Context) ([]nodejoin.CSR, error) {
	list, err := c.k.Resource(csrResource).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("kubeapi: list CSRs: %w", err)
	}
	var out []nodejoin.CSR
	for i := range list.Items {
		var r certv1.CertificateSigningRequest
		if err := fromUnstructured(&list.Items[i], &r); err != nil {
			return nil, fmt.Errorf("kubeapi: CSR %s: %w", list.Items[i].GetName(), err)
		}
		if csr, ok := nodeCSR(&r); ok {
			out = append(out, csr)
		}
	}
	return out, nil
}

func fromUnstructured(u *unstructured.Unstructured, into any) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructured(u.UnstructuredContent(), into)
}

func nodeCSR(r *certv1.CertificateSigningRequest) (nodejoin.CSR, bool) {
	for _, cond := range r.Status.Conditions {
		if cond.Type == certv1.CertificateApproved || cond.Type == certv1.CertificateDenied || cond.Type == certv1.CertificateFailed {
			return nodejoin.CSR{}, false
		}
	}
	block, _ := pem.Decode(r.Spec.Request)
	if block == nil {
		return nodejoin.CSR{}, false
	}
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil || req.CheckSignature() != nil {
		return nodejoin.CSR{}, false
	}
	cn := req.Subject.CommonName
	name, isNode := strings.CutPrefix(cn, nodePrefix)
	if !isNode || name == "" || !slices.Equal(req.Subject.Organization, []string{nodesGroup}) {
		return nodejoin.CSR{}, false
	}
	switch {
	case r.Spec.SignerName == clientSigner && r.Spec.Username == nodejoin.BootstrapperUser:
		return nodejoin.CSR{Name: r.Name, Node: name, Kind: nodejoin.KindClient}, true
	case r.Spec.SignerName == servingSigner && r.Spec.Username == cn:
		return nodejoin.CSR{Name: r.Name, Node: name, Kind: nodejoin.KindServing}, true
	}
	return nodejoin.CSR{}, false
}

// ApproveCSR approves a CSR (its approval subresource), as `oc adm certificate approve` does.
func (c *Client) ApproveCSR(ctx context.Context, name, reason string) error {
	csrs := c.k.Resource(csrResource)
	u, err := csrs.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("kubeapi: get CSR %s: %w", name, err)
	}
	var r certv1.CertificateSigningRequest
	if err := fromUnstructured(u, &r); err != nil {
		return fmt.Errorf("kubeapi: CSR %s: %w", name, err)
	}
	r.Status.Conditions = append(r.Status.Conditions, certv1.CertificateSigningRequestCondition{
		Type: certv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "CN2ApplianceApprove", Message: reason,
		LastUpdateTime: metav1.Now(),
	})
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&r)
	if err != nil {
		return fmt.Errorf("kubeapi: CSR %s: %w", name, err)
	}
	u = &unstructured.Unstructured{Object: obj}
	u.SetAPIVersion("certificates.k8s.io/v1")
	u.SetKind("CertificateSigningRequest")
	if _, err := csrs.Update(ctx, u, metav1.UpdateOptions{}, "approval"); err != nil {
		return fmt.Errorf("kubeapi: approve CSR %s: %w", name, err)
	}
	return nil
}

// NodeReady reads the node's Ready condition.
func (c *Client) NodeReady(ctx context.Context, node string) (ready, exists bool, err error) {
	u, err := c.k.Resource(nodeResource).Get(ctx, node, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("kubeapi: get node %s: %w", node, err)
	}
	var n corev1.Node
	if err := fromUnstructured(u, &n); err != nil {
		return false, true, fmt.Errorf("kubeapi: node %s: %w", node, err)
	}
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status == corev1.ConditionTrue, true, nil
		}
	}
	return false, true, nil
}

var _ nodejoin.API = (*Client)(nil)
