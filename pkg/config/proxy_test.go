package config

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func loadProxyLab(t *testing.T) *Lab {
	t.Helper()
	lab, err := Load("testdata/valid/proxy.yaml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return lab
}

func TestProxyLoaded(t *testing.T) {
	lab := loadProxyLab(t)
	p := lab.Proxy
	password := string(p.Password.Reveal())
	if password == "" {
		t.Fatal("the proxy password was not loaded")
	}
	if want := "http://svc-lab:" + password + "@proxy.example.com:3128"; p.HTTPProxyURL() != want || p.HTTPSProxyURL() != want {
		t.Errorf("proxy URLs with the password: got %q, %q", p.HTTPProxyURL(), p.HTTPSProxyURL())
	}
	if len(p.TrustBundleSubjects) != 2 || !strings.Contains(p.TrustBundleSubjects[0], "Example Corp Proxy CA") {
		t.Errorf("trust bundle subjects = %q, want the two test CAs", p.TrustBundleSubjects)
	}
	if strings.Count(p.TrustBundle, "BEGIN CERTIFICATE") != 2 {
		t.Errorf("trust bundle holds %d certificates, want 2", strings.Count(p.TrustBundle, "BEGIN CERTIFICATE"))
	}
	// What plan prints: the lab as JSON and %v, never the password.
	b, _ := json.Marshal(lab)
	for _, out := range []string{string(b), fmt.Sprintf("%v %+v", lab.Proxy, lab.Proxy)} {
		if strings.Contains(out, password) {
			t.Errorf("the proxy password is in %s", out)
		}
	}
	if !strings.Contains(string(b), `"httpProxy":"http://svc-lab@proxy.example.com:3128"`) {
		t.Errorf("the lab's JSON lacks the proxy URL: %s", b)
	}
}

func TestNoProxyCompleted(t *testing.T) {
	lab := loadProxyLab(t)
	want := []string{
		".corp.example.com", "192.0.2.0/24", "registry.corp.example.com", // the lab file's, first
		"172.16.0.0/24", "10.16.0.0/24", // lab networks (the machine network among them)
		"10.128.0.0/14", "172.30.0.0/16", // cluster and service networks
		".mycluster.contrail.lan",      // the cluster's domain
		"172.16.0.100", "172.16.0.101", // VIPs
		"172.16.0.1", "10.16.0.1", // the appliance
	}
	if got := lab.NoProxy(); !slices.Equal(got, want) {
		t.Errorf("NoProxy =\n %q\nwant\n %q", got, want)
	}
	if got := lab.NoProxyString(); got != strings.Join(want, ",") {
		t.Errorf("NoProxyString = %q", got)
	}
	lab.Proxy.NoProxy = []string{"*"}
	if got := lab.NoProxy(); !slices.Equal(got, []string{"*"}) {
		t.Errorf("NoProxy with * = %q, want just *", got)
	}
	lab.Proxy = Proxy{}
	if got := lab.NoProxy(); got != nil {
		t.Errorf("NoProxy without a proxy = %q, want none", got)
	}
}

func TestRedactProxyURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://proxy:3128":                    "http://proxy:3128",
		"http://user@proxy:3128":               "http://user@proxy:3128",
		"http://user:pa55word@proxy:3128":      "http://user:[redacted]@proxy:3128",
		"https://u:p%40ss@proxy.example:8443/": "https://u:[redacted]@proxy.example:8443/",
		"http://u:bad%zz@proxy:3128":           "[redacted]@proxy:3128",
	} {
		if got := RedactProxyURL(in); got != want {
			t.Errorf("RedactProxyURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNoProxyEntries(t *testing.T) {
	for e, ok := range map[string]bool{
		"example.com": true, ".example.com": true, "192.0.2.1": true, "192.0.2.0/24": true, "2001:db8::/32": true,
		"localhost": true, "under_score.example": true,
		"*.example.com": false, "host:8080": false, "http://x": false, "": false, "..example.com": false, "-bad.example": false,
	} {
		if got := validNoProxyEntry(e); got != ok {
			t.Errorf("validNoProxyEntry(%q) = %v, want %v", e, got, ok)
		}
	}
}
