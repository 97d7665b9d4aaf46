package ai_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/coreos/ignition/v2/config/v3_2"

	"github.com/cn2-appliance/cn2-appliance/internal/aisim"
	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
)

func TestCAPatchScript(t *testing.T) {
	s := ai.CAPatchScript
	for _, want := range []string{
		"#!/bin/bash",
		"KUBECONFIG=/etc/kubernetes/bootstrap-secrets/kubeconfig",
		"/etc/kubernetes/bootstrap-secrets/aggregator-ca.crt",
		"requestheader-client-ca-file: |",
		`sed 's/^/    /'`,
		"kubectl patch configmap extension-apiserver-authentication -n kube-system --patch-file",
		"exit 0",
		"sleep 60",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q", want)
		}
	}
}

func TestCAPatchOverride(t *testing.T) {
	text, err := ai.BuildIgnitionOverride(true)
	if err != nil {
		t.Fatal(err)
	}
	cfg, rpt, err := v3_2.Parse([]byte(text))
	if err != nil || rpt.IsFatal() {
		t.Fatalf("ignition refuses the override: %v %s", err, rpt)
	}
	if cfg.Ignition.Version != "3.2.0" || len(cfg.Systemd.Units) != 1 || len(cfg.Storage.Files) != 1 {
		t.Fatalf("config %+v", cfg)
	}
	u := cfg.Systemd.Units[0]
	if u.Name != "ca-patch.service" || u.Enabled == nil || !*u.Enabled ||
		!strings.Contains(*u.Contents, "ExecStart=/usr/local/bin/ca-patch.sh") ||
		!strings.Contains(*u.Contents, "Type=oneshot") || !strings.Contains(*u.Contents, "WantedBy=multi-user.target") {
		t.Errorf("unit %+v", u)
	}
	f := cfg.Storage.Files[0]
	if f.Path != "/usr/local/bin/ca-patch.sh" || f.Mode == nil || *f.Mode != 0o755 {
		t.Errorf("file %s mode %v", f.Path, f.Mode)
	}
	src := *f.Contents.Source
	b64, ok := strings.CutPrefix(src, "data:text/plain;charset=utf-8;base64,")
	if !ok {
		t.Fatalf("source %q", src[:40])
	}
	if got, _ := base64.StdEncoding.DecodeString(b64); string(got) != ai.CAPatchScript {
		t.Error("embedded script differs")
	}
}

func TestIgnitionFragments(t *testing.T) {
	frag := []byte(`{"ignition":{"version":"3.1.0"},"passwd":{"users":[{"name":"core","passwordHash":"$6$x"}]},
		"storage":{"files":[{"path":"/etc/motd","contents":{"source":"data:,hello"},"mode":420}]}}`)
	text, err := ai.BuildIgnitionOverride(true, frag)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := v3_2.Parse([]byte(text))
	if err != nil || len(cfg.Storage.Files) != 2 || len(cfg.Passwd.Users) != 1 {
		t.Fatalf("merged %v %+v", err, cfg)
	}
	for name, bad := range map[string]string{
		"spec 3.3":      `{"ignition":{"version":"3.3.0"},"kernelArguments":{"shouldExist":["ipv6.disable=1"]}}`,
		"relative path": `{"ignition":{"version":"3.2.0"},"storage":{"files":[{"path":"etc/x"}]}}`,
		"not json":      `{`,
	} {
		if _, err := ai.BuildIgnitionOverride(false, []byte(bad)); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

// TestOverrideAcceptedBySimulator: the simulator parses overrides as the service does and
// refuses what it would refuse.
func TestOverrideAcceptedBySimulator(t *testing.T) {
	h := newHarness(t, aisim.Options{}, ai.Config{})
	cl := h.registerCluster("c", true)
	ie := h.registerInfraEnv(cl.ID)
	text, _ := ai.BuildIgnitionOverride(true)
	if _, err := h.c.UpdateInfraEnv(h.ctx, ie.ID, ai.InfraEnvUpdateParams{IgnitionConfigOverride: text}); err != nil {
		t.Fatal(err)
	}
	_, err := h.c.UpdateInfraEnv(h.ctx, ie.ID, ai.InfraEnvUpdateParams{IgnitionConfigOverride: `{"ignition":{"version":"3.4.0"}}`})
	if !errors.Is(err, ai.ErrBadRequest) {
		t.Errorf("3.4 override: %v", err)
	}
}
