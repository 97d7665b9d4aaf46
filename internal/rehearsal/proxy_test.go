package rehearsal

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/freeport"
	"github.com/cn2-appliance/cn2-appliance/internal/testlab"
)

const rehearsalProxyPassword = "FAKE-REHEARSAL-PROXY-PASSWORD-31337"

// TestRehearseBehindProxy rehearses the example lab with a proxy (a real tinyproxy on
// loopback, with basic auth) and a two-CA trust bundle in the lab file: the install completes,
// the installer's cluster and infra env carry the proxy with its credentials, the bundle, and
// a no-proxy list holding the lab's (moved) networks, the status page shows the proxy with
// the password redacted, and the password is in no log line, status page or metric.
func TestRehearseBehindProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("a rehearsal takes most of a minute")
	}
	tinyproxy, err := exec.LookPath("tinyproxy")
	if err != nil {
		t.Skip("tinyproxy not installed (scripts/install-test-deps.sh installs it)")
	}
	dir, err := os.MkdirTemp("", "px-rehearsal-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	_ = os.Chmod(dir, 0o755) // tinyproxy drops to nobody

	port, err := freeport.Port()
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "tinyproxy.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("User nobody\nGroup nogroup\nPort %d\nListen 127.0.0.1\nTimeout 30\nLogLevel Info\nAllow 127.0.0.1\nBasicAuth pxuser %s\n", port, rehearsalProxyPassword)), 0o644); err != nil {
		t.Fatal(err)
	}
	proxy := exec.Command(tinyproxy, "-d", "-c", conf)
	proxy.Stdout, proxy.Stderr = io.Discard, io.Discard
	if err := proxy.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Process.Kill(); _ = proxy.Wait() })

	// The example lab, its relative paths made absolute, with a proxy section.
	example := testlab.Path(t)
	text, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	configs := filepath.Dir(example)
	labText := strings.NewReplacer("example-secrets/", configs+"/example-secrets/", "manifestsDir: example-manifests", "manifestsDir: "+configs+"/example-manifests").Replace(string(text))
	if err := os.WriteFile(filepath.Join(dir, "proxy-password"), []byte(rehearsalProxyPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bundle, err := filepath.Abs("../../pkg/config/testdata/proxy/bundle.pem")
	if err != nil {
		t.Fatal(err)
	}
	labText += fmt.Sprintf(`
proxy:
  httpProxy: http://pxuser@127.0.0.1:%[1]d
  httpsProxy: http://pxuser@127.0.0.1:%[1]d
  noProxy: [.corp.example]
  passwordFile: %[2]s
  trustBundleFile: %[3]s
`, port, filepath.Join(dir, "proxy-password"), bundle)
	labPath := filepath.Join(dir, "lab.yaml")
	if err := os.WriteFile(labPath, []byte(labText), 0o600); err != nil {
		t.Fatal(err)
	}

	// Everything the status server gives out, read while it serves.
	var mu sync.Mutex
	var pages []string
	sawProxy := false
	ctx, cancel := context.WithTimeout(context.Background(), 240*time.Second)
	defer cancel()
	watch := func(url string) {
		go func() {
			for ctx.Err() == nil {
				var got []string
				for _, path := range []string{"api/v1/status", "", "metrics"} {
					resp, err := http.Get(url + path)
					if err != nil {
						return // the status server has stopped
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					got = append(got, string(b))
				}
				mu.Lock()
				pages = append(pages, got...)
				if strings.Contains(got[0], "pxuser:[redacted]@") && strings.Contains(got[1], `id="cluster-proxy"`) {
					sawProxy = true
				}
				mu.Unlock()
				time.Sleep(200 * time.Millisecond)
			}
		}()
	}
	var out syncBuffer
	r, err := Run(ctx, labPath, Options{
		TimeScale: 0.01, StateDir: t.TempDir(), Out: &out, OnStatus: watch, Hold: 2 * time.Second,
		Log: slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, tail(out.String(), 60))
	}
	p := r.Proxy
	if !r.Installed || p == nil {
		t.Fatalf("installed %v, proxy report %+v", r.Installed, p)
	}
	t.Logf("installer objects: %+v", *p)
	for _, want := range []string{".corp.example", "127.1.0.0/24", "127.2.0.0/24", "10.128.0.0/14", "172.31.0.0/16", ".mycluster.contrail.lan"} {
		if !slices.Contains(p.ClusterNoProxy, want) || !slices.Contains(p.InfraEnvNoProxy, want) {
			t.Errorf("no_proxy at the installer lacks %s: cluster %q, infra env %q", want, p.ClusterNoProxy, p.InfraEnvNoProxy)
		}
	}
	wantURL := fmt.Sprintf("http://pxuser:[redacted]@127.0.0.1:%d", port)
	if !p.Credentials || p.ClusterHTTPProxy != wantURL || p.InfraEnvHTTPProxy != wantURL || p.TrustBundleCerts != 2 {
		t.Errorf("installer objects: %+v; want %s with the lab's password and a bundle of 2", *p, wantURL)
	}
	mu.Lock()
	defer mu.Unlock()
	if !sawProxy {
		t.Error("the status page never showed the cluster's proxy")
	}
	all := out.String() + strings.Join(pages, "\n")
	if strings.Contains(all, rehearsalProxyPassword) {
		t.Error("the proxy password is in a log line, the status page or the metrics")
	}
	if !strings.Contains(strings.Join(pages, "\n"), "pxuser:[redacted]@127.0.0.1") {
		t.Error("the status page shows no redacted proxy URL")
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
