package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestPlanShowsTheProxy: plan prints the proxy, its trust bundle and the final no-proxy list
// (the lab's entries and what the appliance adds), and never the proxy password.
func TestPlanShowsTheProxy(t *testing.T) {
	const lab = "../../pkg/config/testdata/valid/proxy.yaml"
	_ = os.Chmod("../../pkg/config/testdata/secrets/password", 0o600)
	password, err := os.ReadFile("../../pkg/config/testdata/secrets/password")
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, "plan", "-c", lab, "-o", "json")
	if code != 0 {
		t.Fatalf("plan: code %d: %s", code, errOut)
	}
	var p struct {
		NoProxy []string `json:"noProxy"`
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	if len(p.NoProxy) != 12 || p.NoProxy[0] != ".corp.example.com" || p.NoProxy[3] != "172.16.0.0/24" {
		t.Errorf("plan's noProxy = %q", p.NoProxy)
	}
	text, _, _ := run(t, "plan", "-c", lab)
	for _, want := range []string{"http http://svc-lab@proxy.example.com:3128", "trusts CN=Example Corp Proxy CA", "no proxy for .corp.example.com, 192.0.2.0/24, registry.corp.example.com, 172.16.0.0/24, 10.16.0.0/24, 10.128.0.0/14, 172.30.0.0/16, .mycluster.contrail.lan, 172.16.0.100"} {
		if !strings.Contains(text, want) {
			t.Errorf("plan text lacks %q", want)
		}
	}
	if pw := strings.TrimSpace(string(password)); strings.Contains(out+text+errOut, pw) {
		t.Error("plan prints the proxy password")
	}
}
