package aisim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
)

const simPullSecret = `{\"auths\":{\"a\":{\"auth\":\"dTpw\"}}}`

// TestProxyFields: the simulator takes the proxy fields the service takes, refuses the ones
// it refuses with its words, and gives back what it stored.
func TestProxyFields(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	send := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+"/api/assisted-install/v2"+path, bytes.NewBufferString(body))
		req.Header.Set("Content-Type", "application/json")
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r.StatusCode, string(b)
	}
	cluster := func(extra string) (int, string) {
		return send(http.MethodPost, "/clusters", `{"name":"c","openshift_version":"4.14","base_dns_domain":"lab.test","pull_secret":"`+simPullSecret+`"`+extra+`}`)
	}
	for _, c := range []struct {
		extra, want string
	}{
		{`,"http_proxy":"https://proxy.corp:3128"`, "Failed to validate HTTP Proxy: The URL scheme must be http and specified in the URL"},
		{`,"http_proxy":"proxy.corp:3128"`, "Failed to validate HTTP Proxy"},
		{`,"https_proxy":"socks5://proxy.corp:1080"`, "Failed to validate HTTPS Proxy: The URL scheme must be http or https"},
		{`,"no_proxy":"a.example,a.example"`, "duplicate no_proxy entry defined: a.example"},
		{`,"no_proxy":".ok.example,bad entry"`, "bad entry is not a valid no_proxy entry"},
		{`,"no_proxy":"host:8080"`, "host:8080 is not a valid no_proxy entry"},
	} {
		code, body := cluster(c.extra)
		if code != http.StatusBadRequest || !strings.Contains(body, c.want) {
			t.Errorf("register with %s: %d %s, want 400 with %q", c.extra, code, body, c.want)
		}
	}
	code, body := cluster(`,"http_proxy":"http://u:p@proxy.corp:3128","https_proxy":"https://proxy.corp:3129","no_proxy":".lab.test,10.0.0.0/8,192.0.2.1"`)
	if code != http.StatusCreated {
		t.Fatalf("register with a good proxy: %d %s", code, body)
	}
	var c ai.Cluster
	_ = json.Unmarshal([]byte(body), &c)
	if c.HTTPProxy != "http://u:p@proxy.corp:3128" || c.HTTPSProxy != "https://proxy.corp:3129" || c.NoProxy != ".lab.test,10.0.0.0/8,192.0.2.1" {
		t.Errorf("cluster proxy = %q %q %q", c.HTTPProxy, c.HTTPSProxy, c.NoProxy)
	}
	if code, body := send(http.MethodPatch, "/clusters/"+c.ID, `{"no_proxy":"*"}`); code != http.StatusCreated || !strings.Contains(body, `"no_proxy":"*"`) {
		t.Errorf("update no_proxy to *: %d %s", code, body)
	}
	if code, body := send(http.MethodPatch, "/clusters/"+c.ID, `{"http_proxy":"ftp://x:21"}`); code != http.StatusBadRequest {
		t.Errorf("update to an ftp proxy: %d %s", code, body)
	}

	ca, err := os.ReadFile("../../pkg/config/testdata/proxy/bundle.pem")
	if err != nil {
		t.Fatal(err)
	}
	bundle, _ := json.Marshal(string(ca) + "\n\n")
	infraEnv := func(extra string) (int, string) {
		return send(http.MethodPost, "/infra-envs", `{"name":"ie","pull_secret":"`+simPullSecret+`"`+extra+`}`)
	}
	for _, c := range []struct{ extra, want string }{
		{`,"additional_trust_bundle":"not pem"`, "invalid block"},
		{`,"proxy":{"http_proxy":"https://p:1"}`, "Failed to validate HTTP Proxy"},
		{`,"proxy":{"no_proxy":"x,,y"}`, "is not a valid no_proxy entry"},
	} {
		if code, body := infraEnv(c.extra); code != http.StatusBadRequest || !strings.Contains(body, c.want) {
			t.Errorf("infra env with %s: %d %s, want 400 with %q", c.extra, code, body, c.want)
		}
	}
	code, body = infraEnv(`,"proxy":{"http_proxy":"http://proxy.corp:3128","no_proxy":".lab.test"},"additional_trust_bundle":` + string(bundle))
	if code != http.StatusCreated {
		t.Fatalf("infra env with proxy and bundle: %d %s", code, body)
	}
	var ie ai.InfraEnv
	_ = json.Unmarshal([]byte(body), &ie)
	if ie.Proxy == nil || *ie.Proxy.HTTPProxy != "http://proxy.corp:3128" || *ie.Proxy.NoProxy != ".lab.test" || ie.AdditionalTrustBundle != strings.TrimSpace(string(ca)) {
		t.Errorf("infra env proxy %+v, bundle %d bytes (want %d, trimmed)", ie.Proxy, len(ie.AdditionalTrustBundle), len(strings.TrimSpace(string(ca))))
	}
	if code, body := send(http.MethodPatch, "/infra-envs/"+ie.ID, `{"additional_trust_bundle":"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"}`); code != http.StatusBadRequest || !strings.Contains(body, "parse failed") {
		t.Errorf("update with a broken certificate: %d %s", code, body)
	}
	if v := s.Violations(); len(v) != 0 {
		t.Errorf("spec violations: %v", v)
	}
}
