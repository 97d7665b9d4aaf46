package outbound

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/cn2-appliance/cn2-appliance/pkg/config"
)

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestProxyRulesOfTheLab(t *testing.T) {
	lab, err := config.Load("../config/testdata/valid/proxy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := ForLab(lab)
	proxy := c.ProxyFunc()
	for target, via := range map[string]string{
		"https://api.openshift.com/api/assisted-install/v2/clusters": "proxy.example.com:3128",
		"https://sso.redhat.com/auth/token":                          "proxy.example.com:3128",
		"http://mirror.openshift.com/rhcos.iso":                      "proxy.example.com:3128",
		"https://172.16.0.11:6443/":                                  "", // machine network
		"https://10.16.0.12/":                                        "", // another lab network
		"https://api.mycluster.contrail.lan:6443/":                   "", // the cluster's domain
		"https://registry.corp.example.com/v2/":                      "", // the lab file's entry
		"https://git.corp.example.com/":                              "", // .corp.example.com
		"http://192.0.2.7/":                                          "",
		"http://127.0.0.1:8090/":                                     "", // loopback is always direct
	} {
		p, err := proxy(mustURL(t, target))
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		got := ""
		if p != nil {
			got = p.Host
			if pw, _ := p.User.Password(); pw != "FAKE-TEST-PASSWORD" || p.User.Username() != "svc-lab" {
				t.Errorf("%s: the proxy URL lacks the lab's credentials", target)
			}
		}
		if got != via {
			t.Errorf("%s goes via %q, want %q", target, got, via)
		}
	}
	if d := c.Describe(); strings.Contains(d, "FAKE-TEST-PASSWORD") || !strings.Contains(d, "proxy.example.com:3128") {
		t.Errorf("Describe = %q: want the proxy host and no password", d)
	}
}

func TestEnvironmentWhenTheLabNamesNoProxy(t *testing.T) {
	t.Setenv("HTTPS_PROXY", "http://env-proxy.example:8080")
	t.Setenv("HTTP_PROXY", "")
	t.Setenv("NO_PROXY", "direct.example")
	for _, v := range []string{"https_proxy", "http_proxy", "no_proxy", "REQUEST_METHOD"} {
		t.Setenv(v, "")
	}
	c := Config{}
	if c.Named() {
		t.Fatal("an empty config names a proxy")
	}
	for target, via := range map[string]string{
		"https://api.openshift.com/": "env-proxy.example:8080",
		"https://direct.example/":    "",
		"http://api.openshift.com/":  "",
	} {
		if got := c.ProxyHost(mustURL(t, target)); got != via {
			t.Errorf("%s goes via %q, want %q", target, got, via)
		}
	}
}

// The trust bundle is added to the system roots: a server whose CA only the bundle holds
// verifies; without the bundle it does not.
func TestTrustBundle(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer srv.Close()
	pemCA := certPEM(srv.Certificate().Raw)

	plain, err := Config{}.Client()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.Get(srv.URL); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without the bundle: err = %v, want a certificate error", err)
	}
	withBundle, err := Config{TrustBundle: pemCA}.Client()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := withBundle.Get(srv.URL)
	if err != nil {
		t.Fatalf("with the bundle: %v", err)
	}
	resp.Body.Close()
	if _, err := (Config{TrustBundle: "not pem"}).Transport(); err == nil {
		t.Error("a bundle without certificates was accepted")
	}
}
