package outbound_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/aisim"
	"github.com/cn2-appliance/cn2-appliance/internal/netnstest"
	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/doctor"
	"github.com/cn2-appliance/cn2-appliance/pkg/outbound"
	"github.com/cn2-appliance/cn2-appliance/pkg/pxe"
)

// The namespaces of the proxy test: the appliance's, the proxy's (two legs, no forwarding)
// and the installer's. The appliance has no route to the installer: only through the proxy.
const (
	nsApp, nsProxy, nsInstaller = "px-app", "px-prx", "px-ai"
	appAddr                     = "10.99.1.1"
	proxyAddr                   = "10.99.1.2"
	proxyInner                  = "10.99.2.1"
	installerAddr               = "10.99.2.2"
	installerName               = "installer.px.test"
	proxyUser                   = "pxuser"
	proxyPassword               = "FAKE-PROXY-PASSWORD-4711"
	offlineToken                = "FAKE-OFFLINE-TOKEN-px-0123456789"
	childEnv                    = "CN2_PX_PROXY_CHILD"
)

func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestThroughRealProxy: tinyproxy (with basic auth) in its own namespace between the
// appliance and an HTTPS installer (aisim, with a certificate of a CA that only the trust
// bundle holds). The appliance's installer client, its token endpoint call (x/oauth2), a boot
// artifact download and the doctor's proxy and installer checks all succeed through the
// proxy, which logs each CONNECT; without the bundle TLS fails, without the password the
// proxy refuses; the password appears in no output of the appliance's.
func TestThroughRealProxy(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		childThroughProxy(t)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	tinyproxy, err := exec.LookPath("tinyproxy")
	if err != nil {
		t.Skip("tinyproxy not installed (scripts/install-test-deps.sh installs it)")
	}
	// tinyproxy runs as nobody: its log lives in a folder nobody can reach (t.TempDir's
	// parent is private).
	dir, err := os.MkdirTemp("", "px-proxy-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{nsApp, nsProxy, nsInstaller} {
		_ = exec.Command("ip", "netns", "del", ns).Run()
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
		run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	run(t, "ip", "link", "add", "pxa0", "netns", nsApp, "type", "veth", "peer", "name", "pxp0", "netns", nsProxy)
	run(t, "ip", "link", "add", "pxp1", "netns", nsProxy, "type", "veth", "peer", "name", "pxi0", "netns", nsInstaller)
	for _, a := range [][3]string{{nsApp, "pxa0", appAddr}, {nsProxy, "pxp0", proxyAddr}, {nsProxy, "pxp1", proxyInner}, {nsInstaller, "pxi0", installerAddr}} {
		run(t, "ip", "-n", a[0], "addr", "add", a[2]+"/24", "dev", a[1])
		run(t, "ip", "-n", a[0], "link", "set", a[1], "up")
	}
	run(t, "ip", "netns", "exec", nsProxy, "sysctl", "-qw", "net.ipv4.ip_forward=0")

	// The proxy resolves names only from its own hosts file (ip netns exec mounts
	// /etc/netns/NAME/* over /etc): the installer and the registries are the installer's
	// namespace; its resolv.conf names no server that answers.
	etc := filepath.Join("/etc/netns", nsProxy)
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(etc) })
	hosts := fmt.Sprintf("127.0.0.1 localhost\n%s %s quay.io registry.redhat.io cloud.openshift.com\n", installerAddr, installerName)
	for name, content := range map[string]string{"hosts": hosts, "resolv.conf": "nameserver " + proxyAddr + "\n"} {
		if err := os.WriteFile(filepath.Join(etc, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	caPEM, serverCert := testCA(t)
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	sim, err := aisim.New(aisim.Options{Auth: &aisim.Auth{OfflineTokens: []string{offlineToken}}})
	if err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	if err := netnstest.InNetns(nsInstaller, func() (err error) {
		ln, err = net.Listen("tcp", net.JoinHostPort(installerAddr, "443"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: sim, TLSConfig: &tls.Config{Certificates: []tls.Certificate{serverCert}}}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })

	logFile := filepath.Join(dir, "tinyproxy.log")
	if err := os.WriteFile(logFile, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(logFile, 0o666); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`User nobody
Group nogroup
Port 8888
Listen %s
Timeout 30
LogFile "%s"
LogLevel Info
MaxClients 20
Allow 10.99.1.0/24
BasicAuth %s %s
ConnectPort 443
DisableViaHeader Yes
`, proxyAddr, logFile, proxyUser, proxyPassword)
	confFile := filepath.Join(dir, "tinyproxy.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	proxy := exec.Command("ip", "netns", "exec", nsProxy, tinyproxy, "-d", "-c", confFile)
	var proxyOut bytes.Buffer
	proxy.Stdout, proxy.Stderr = &proxyOut, &proxyOut
	if err := proxy.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Process.Kill(); _ = proxy.Wait() })
	waitListening(t, nsApp, net.JoinHostPort(proxyAddr, "8888"), &proxyOut)

	child := exec.Command("ip", "netns", "exec", nsApp, os.Args[0], "-test.run", "^TestThroughRealProxy$", "-test.v", "-test.count=1")
	child.Env = append(os.Environ(), childEnv+"="+dir)
	out, err := child.CombinedOutput()
	t.Logf("appliance side (in %s):\n%s", nsApp, out)
	if err != nil {
		t.Fatalf("the appliance side failed: %v", err)
	}
	if bytes.Contains(out, []byte(proxyPassword)) {
		t.Errorf("the proxy password is in the appliance's output")
	}
	plog, _ := os.ReadFile(logFile)
	t.Logf("tinyproxy log:\n%s", plog)
	for _, want := range []string{
		"CONNECT " + installerName + ":443",                                                        // installer, token endpoint, download, doctor
		"CONNECT quay.io:443", "CONNECT registry.redhat.io:443", "CONNECT cloud.openshift.com:443", // doctor
	} {
		if !bytes.Contains(plog, []byte(want)) {
			t.Errorf("the proxy's log shows no %q", want)
		}
	}
	if n := bytes.Count(plog, []byte("CONNECT "+installerName+":443")); n < 4 {
		t.Errorf("the proxy logged %d CONNECTs to the installer, want at least 4 (client, token, download, doctor)", n)
	}
	if v := sim.Violations(); len(v) != 0 {
		t.Errorf("spec violations: %v", v)
	}
}

// waitListening waits until addr accepts TCP from namespace ns (the proxy started).
func waitListening(t *testing.T, ns, addr string, out *bytes.Buffer) {
	t.Helper()
	for range 100 {
		var err error
		_ = netnstest.InNetns(ns, func() error {
			var c net.Conn
			if c, err = net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
			}
			return nil
		})
		if err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("tinyproxy does not listen on %s: %s", addr, out)
}

// childThroughProxy runs as the appliance, inside px-app.
func childThroughProxy(t *testing.T) {
	dir := os.Getenv(childEnv)
	ca, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	installerURL := "https://" + installerName
	proxyURL := fmt.Sprintf("http://%s:%s@%s:8888", proxyUser, proxyPassword, proxyAddr)
	cfg := outbound.Config{HTTPProxy: proxyURL, HTTPSProxy: proxyURL, NoProxy: []string{"10.99.1.0/24"}, TrustBundle: string(ca)}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// No direct way: no route, and the appliance cannot even resolve the installer's name.
	if c, err := net.DialTimeout("tcp", net.JoinHostPort(installerAddr, "443"), 2*time.Second); err == nil {
		c.Close()
		t.Fatal("the installer is reachable without the proxy")
	}

	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	newClient := func(c outbound.Config) *ai.Client {
		hc, err := c.Client()
		if err != nil {
			t.Fatal(err)
		}
		cl, err := ai.New(ai.Config{URL: installerURL, OfflineToken: offlineToken, TokenURL: installerURL + aisim.TokenPath,
			HTTPClient: hc, Logger: log, MaxAttempts: 1, Redact: []string{proxyPassword}})
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	// The token (x/oauth2) and the API call, through the proxy, trusting the bundle.
	versions, err := newClient(cfg).OpenshiftVersions(ctx, "", false)
	if err != nil {
		t.Fatalf("installer through the proxy: %v", err)
	}
	if len(versions) == 0 {
		t.Fatal("no versions")
	}
	// Without the bundle the installer's certificate does not verify.
	noBundle := cfg
	noBundle.TrustBundle = ""
	if _, err := newClient(noBundle).OpenshiftVersions(ctx, "", false); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("without the trust bundle: err = %v, want a certificate error", err)
	}
	// Without the password the proxy refuses.
	noAuth := cfg
	noAuth.HTTPProxy = "http://" + proxyAddr + ":8888"
	noAuth.HTTPSProxy = noAuth.HTTPProxy
	if _, err := newClient(noAuth).OpenshiftVersions(ctx, "", false); err == nil || !strings.Contains(err.Error(), "Proxy Authentication Required") {
		t.Errorf("without the proxy's credentials: err = %v, want the proxy's 407", err)
	}
	// A boot artifact download through the same transport.
	hc, _ := cfg.Client()
	n, err := pxe.DownloadFile(ctx, hc, installerURL+"/boot-artifacts/rootfs?arch=x86_64&version=4.14", filepath.Join(t.TempDir(), "rootfs"))
	if err != nil || n == 0 {
		t.Fatalf("download through the proxy: %d bytes, %v", n, err)
	}

	// The doctor: the proxy check and the installer check, from a lab naming the proxy.
	lab := &config.Lab{
		Cluster:           config.Cluster{Name: "px", BaseDomain: "lab.test", OpenshiftVersion: "4.14"},
		AssistedInstaller: config.AssistedInstaller{URL: installerURL, TokenURL: installerURL + aisim.TokenPath, OfflineToken: config.NewSecret([]byte(offlineToken))},
		Networks:          []config.Network{{Name: "ctrl", CIDR: netip.MustParsePrefix("10.99.1.0/24"), Address: netip.MustParseAddr(appAddr)}},
		Proxy: config.Proxy{HTTPProxy: "http://" + proxyUser + "@" + proxyAddr + ":8888", HTTPSProxy: "http://" + proxyUser + "@" + proxyAddr + ":8888",
			Password: config.NewSecret([]byte(proxyPassword)), TrustBundle: string(ca), TrustBundleFile: filepath.Join(dir, "ca.pem")},
	}
	var skip []string
	for _, name := range doctor.Names() {
		if name != "proxy" && name != "installer" {
			skip = append(skip, name)
		}
	}
	r := doctor.Run(ctx, doctor.Env{Lab: lab, Log: log}, skip)
	report, _ := json.MarshalIndent(r.Results, "", "  ")
	t.Logf("doctor:\n%s", report)
	if r.Failed() {
		t.Errorf("doctor found errors: %v", r.Err())
	}
	checked := map[string]bool{}
	for _, res := range r.Results {
		if res.Status == doctor.StatusOK {
			checked[res.Check+" "+res.Target] = true
		}
	}
	for _, want := range []string{"proxy proxy " + proxyAddr + ":8888", "proxy " + installerName + ":443", "proxy quay.io:443", "installer " + installerURL} {
		if !checked[want] {
			t.Errorf("doctor: no ok result for %q", want)
		}
	}
	if bytes.Contains(logs.Bytes(), []byte(proxyPassword)) || bytes.Contains(report, []byte(proxyPassword)) {
		t.Error("the proxy password is in the appliance's log or the doctor's report")
	}
	t.Logf("appliance log:\n%s", logs.String())
}

// testCA makes a CA and a certificate of the installer's signed by it.
func testCA(t *testing.T) ([]byte, tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "px test corporate CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: installerName},
		DNSNames: []string{installerName}, IPAddresses: []net.IP{net.ParseIP(installerAddr)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
