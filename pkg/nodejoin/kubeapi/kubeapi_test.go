package kubeapi

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"testing"

	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	fakedynamic "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/cn2-appliance/cn2-appliance/pkg/nodejoin"
)

func csrPEM(t *testing.T, cn string, orgs ...string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn, Organization: orgs}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func csr(name, user, signer string, req []byte, conds ...certv1.CertificateSigningRequestCondition) *certv1.CertificateSigningRequest {
	return &certv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       certv1.CertificateSigningRequestSpec{Username: user, SignerName: signer, Request: req},
		Status:     certv1.CertificateSigningRequestStatus{Conditions: conds},
	}
}

// TestNodeCSRs: only pending kubelet CSRs that name their node consistently are listed (a
// client one from the node bootstrapper, a serving one from the node itself); an approval
// goes through the approval subresource and takes the CSR off the list; readiness is the
// node's Ready condition.
func TestNodeCSRs(t *testing.T) {
	approved := certv1.CertificateSigningRequestCondition{Type: certv1.CertificateApproved, Status: corev1.ConditionTrue}
	objs := []runtime.Object{
		csr("csr-client", nodejoin.BootstrapperUser, clientSigner, csrPEM(t, "system:node:worker-2", "system:nodes")),
		csr("csr-serving", "system:node:worker-3", servingSigner, csrPEM(t, "system:node:worker-3", "system:nodes")),
		csr("csr-done", nodejoin.BootstrapperUser, clientSigner, csrPEM(t, "system:node:worker-4", "system:nodes"), approved),
		csr("csr-wrong-org", nodejoin.BootstrapperUser, clientSigner, csrPEM(t, "system:node:worker-5", "system:masters")),
		csr("csr-other-user", "system:node:worker-6", servingSigner, csrPEM(t, "system:node:worker-7", "system:nodes")),
		csr("csr-not-a-node", "alice", "kubernetes.io/kube-apiserver-client", csrPEM(t, "alice")),
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "worker-3"}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionFalse}}}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "master-0"}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}},
	}
	scheme := runtime.NewScheme()
	if err := certv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	k := fakedynamic.NewSimpleDynamicClient(scheme, objs...)
	c := New(k)
	ctx := context.Background()
	got, err := c.PendingNodeCSRs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []nodejoin.CSR{{Name: "csr-client", Node: "worker-2", Kind: nodejoin.KindClient}, {Name: "csr-serving", Node: "worker-3", Kind: nodejoin.KindServing}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("pending node CSRs %+v, want %+v", got, want)
	}
	if err := c.ApproveCSR(ctx, "csr-client", "day-2 worker worker-2"); err != nil {
		t.Fatal(err)
	}
	approvals := 0
	for _, a := range k.Actions() {
		if a.GetVerb() == "update" && a.GetSubresource() == "approval" && a.(k8stesting.UpdateAction).GetObject() != nil {
			approvals++
		}
	}
	if approvals != 1 {
		t.Errorf("%d updates of the approval subresource, want 1: %v", approvals, k.Actions())
	}
	u, err := k.Resource(schema.GroupVersionResource{Group: "certificates.k8s.io", Version: "v1", Resource: "certificatesigningrequests"}).Get(ctx, "csr-client", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var r certv1.CertificateSigningRequest
	if err := fromUnstructured(u, &r); err != nil {
		t.Fatal(err)
	}
	if n := len(r.Status.Conditions); n != 1 || r.Status.Conditions[0].Type != certv1.CertificateApproved || r.Status.Conditions[0].Status != corev1.ConditionTrue {
		t.Errorf("after approval: %+v", r.Status.Conditions)
	}
	if got, _ := c.PendingNodeCSRs(ctx); len(got) != 1 || got[0].Name != "csr-serving" {
		t.Errorf("still pending after the approval: %+v", got)
	}
	for _, tc := range []struct {
		node          string
		ready, exists bool
	}{{"master-0", true, true}, {"worker-3", false, true}, {"worker-9", false, false}} {
		ready, exists, err := c.NodeReady(ctx, tc.node)
		if err != nil || ready != tc.ready || exists != tc.exists {
			t.Errorf("NodeReady(%s) = %v, %v, %v; want %v, %v", tc.node, ready, exists, err, tc.ready, tc.exists)
		}
	}
}
