package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// writeSelfSigned writes a self-signed certificate for ip (its own CA) and its key.
func writeSelfSigned(t *testing.T, dir, ip string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "cn2-appliance status"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.ParseIP(ip)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "status.crt"), filepath.Join(dir, "status.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestStatusWebConfig: the status page on a lab address, protected by a Prometheus web config
// (TLS and basic auth) as any exporter is. A scrape with the CA and the credentials works and
// promtool finds nothing wrong with it; without credentials, or with a wrong password, 401;
// plain HTTP gets no metrics. validate refuses the same listener without a web config.
func TestStatusWebConfig(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("needs promtool on PATH (Debian package prometheus; scripts/install-test-deps.sh installs it)")
	}
	webDir := t.TempDir()
	cert, key := writeSelfSigned(t, webDir, "172.16.0.1")
	hash, err := bcrypt.GenerateFromPassword([]byte("scrape-secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	web := filepath.Join(webDir, "web.yml")
	webYAML := "tls_server_config:\n  cert_file: " + cert + "\n  key_file: " + key + "\nbasic_auth_users:\n  prometheus: " + string(hash) + "\n"
	if err := os.WriteFile(web, []byte(webYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	sl := serveLab(t, 4096, "status:\n  listen: 127.0.0.1:9180\n", "status:\n  listen: 172.16.0.1:9180\n  webConfigFile: "+web+"\n")
	if strings.Contains(sl.logs.String(), "scrape-secret") || strings.Contains(sl.logs.String(), string(hash)) {
		t.Error("the log shows the scrape credentials")
	}
	ctrl := sl.top.clients["ens4"]
	ctrl.sh(t, "ip", "addr", "add", "172.16.0.200/24", "dev", "eth0")

	// curl prints the body and then the status code on a line of its own.
	get := func(args ...string) (body, code string) {
		args = append([]string{"-sS", "--max-time", "20", "-w", "\n%{http_code}"}, args...)
		out, _ := ctrl.command("curl", args...).CombinedOutput()
		s := strings.TrimRight(string(out), "\n")
		i := strings.LastIndex(s, "\n")
		return s[:max(i, 0)], s[i+1:]
	}
	url := "https://172.16.0.1:9180/metrics"
	sl.waitFor(t, "the status server", func() bool { _, code := get("--cacert", cert, url); return code == "401" })

	body, code := get("--cacert", cert, "-u", "prometheus:scrape-secret", url)
	if code != "200" || !strings.Contains(body, "cn2_appliance_pxe_http_connections ") {
		t.Fatalf("scrape with the credentials: %s\n%s", code, tail(body, 10))
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body + "\n")
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics on the TLS scrape: %v\n%s", err, out)
	}
	if _, code := get("--cacert", cert, "https://172.16.0.1:9180/"); code != "401" {
		t.Errorf("status page without credentials: %s, want 401", code)
	}
	if _, code := get("--cacert", cert, "-u", "prometheus:wrong", url); code != "401" {
		t.Errorf("scrape with a wrong password: %s, want 401", code)
	}
	if body, code := get("http://172.16.0.1:9180/metrics"); code == "200" || strings.Contains(body, "cn2_appliance_") {
		t.Errorf("plain HTTP got %s with metrics", code)
	}
	if _, code := get("-u", "prometheus:scrape-secret", url); code == "200" {
		t.Error("a client that does not trust the certificate got metrics")
	}

	// The same listener without a web config is refused before serve starts.
	bare := strings.Replace(sl.text, "  webConfigFile: "+web+"\n", "", 1)
	lab := filepath.Join(sl.dir, "bare.yaml")
	if err := os.WriteFile(lab, []byte(bare), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(binary(t), "validate", "-c", lab).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "status.listen: 172.16.0.1 is not a loopback address") {
		t.Errorf("validate without a web config: %v\n%s", err, out)
	}
}
