// Package kubeapi is nodejoin.API on a real cluster, with client-go: node CSRs through the
// certificates/v1 API, readiness through core/v1 nodes.
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
	"k8s.io/client-go/kubernetes"
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

// Client is the cluster API of one kubeconfig.
type Client struct{ k kubernetes.Interface }

// New wraps a clientset (a fake one in tests).
func New(k kubernetes.Interface) *Client { return &Client{k: k} }

// FromKubeconfigFile opens the API the kubeconfig at path names.
func FromKubeconfigFile(path string) (*Client, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("kubeapi: load %s: %w", path, err)
	}
	k, err := kubernetes.NewForConfig(cfg)
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
	list, err := c.k.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("kubeapi: list CSRs: %w", err)
	}
	var out []nodejoin.CSR
	for i := range list.Items {
		if csr, ok := nodeCSR(&list.Items[i]); ok {
			out = append(out, csr)
		}
	}
	return out, nil
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
	csrs := c.k.CertificatesV1().CertificateSigningRequests()
	r, err := csrs.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("kubeapi: get CSR %s: %w", name, err)
	}
	r.Status.Conditions = append(r.Status.Conditions, certv1.CertificateSigningRequestCondition{
		Type: certv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "CN2ApplianceApprove", Message: reason,
		LastUpdateTime: metav1.Now(),
	})
	if _, err := csrs.UpdateApproval(ctx, name, r, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("kubeapi: approve CSR %s: %w", name, err)
	}
	return nil
}

// NodeReady reads the node's Ready condition.
func (c *Client) NodeReady(ctx context.Context, node string) (ready, exists bool, err error) {
	n, err := c.k.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("kubeapi: get node %s: %w", node, err)
	}
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status == corev1.ConditionTrue, true, nil
		}
	}
	return false, true, nil
}

var _ nodejoin.API = (*Client)(nil)
