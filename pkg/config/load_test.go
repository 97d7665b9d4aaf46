package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeLab copies the base lab into a temp folder with its files, applying edits.
func writeLab(t *testing.T, edits ...[2]string) string {
	t.Helper()
	dir := t.TempDir()
	for _, sub := range []string{"secrets", "manifests", "manifests/sub", "valid"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"secrets/ssh.pub", "secrets/pull-secret.json", "secrets/password", "secrets/token", "manifests/100-ns.yaml", "manifests/sub/101-cm.yml"} {
		b, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile("testdata/valid/base.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, e := range edits {
		if !strings.Contains(s, e[0]) {
			t.Fatalf("edit %q does not apply", e[0])
		}
		s = strings.Replace(s, e[0], e[1], 1)
	}
	path := filepath.Join(dir, "valid", "lab.yaml")
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadsSecretsAndFiles(t *testing.T) {
	lab, err := Load(writeLab(t))
	if err != nil {
		t.Fatal(err)
	}
	c := lab.Cluster
	if !strings.HasPrefix(c.SSHPublicKey, "ssh-ed25519 ") {
		t.Errorf("ssh key %q", c.SSHPublicKey)
	}
	if !strings.HasPrefix(string(c.PullSecret.Reveal()), `{"auths":`) {
		t.Errorf("pull secret not loaded")
	}
	if got := string(lab.AssistedInstaller.OfflineToken.Reveal()); got != "FAKE-TEST-OFFLINE-TOKEN" {
		t.Errorf("token %q", got)
	}
	if got := string(lab.Nodes[0].BMC.Password.Reveal()); got != "FAKE-TEST-PASSWORD" {
		t.Errorf("password %q", got)
	}
	if strings.Join(c.Manifests, ",") != "100-ns.yaml,sub/101-cm.yml" {
		t.Errorf("manifests %v", c.Manifests)
	}
	if len(lab.Warnings) != 0 {
		t.Errorf("warnings: %v", lab.Warnings)
	}
}

func TestSecretFromEnvironment(t *testing.T) {
	t.Setenv("CN2_TEST_PULL_SECRET", `{"auths": {"quay.io": {"auth": "dTpw"}}}`)
	lab, err := Load(writeLab(t, [2]string{"pullSecretFile: ../secrets/pull-secret.json", "pullSecret: ${CN2_TEST_PULL_SECRET}"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(lab.Cluster.PullSecret.Reveal()); got != `{"auths":{"quay.io":{"auth":"dTpw"}}}` {
		t.Errorf("pull secret %q (want compact JSON)", got)
	}
}

func TestReadableSecretIsAWarning(t *testing.T) {
	path := writeLab(t)
	if err := os.Chmod(filepath.Join(filepath.Dir(path), "../secrets/password"), 0o644); err != nil {
		t.Fatal(err)
	}
	lab, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	// Both BMCs that read the file get the warning, each at its own key.
	if len(lab.Warnings) != 2 || !strings.Contains(lab.Warnings[0].String(), "nodes[0].bmc.passwordFile: ") ||
		!strings.Contains(lab.Warnings[1].String(), "nodes[1].bmc.passwordFile: ") || !strings.Contains(lab.Warnings[0].Message, "mode 0644") {
		t.Errorf("warnings = %v", lab.Warnings)
	}
}

func TestNoForwardersWarns(t *testing.T) {
	lab, err := Load(writeLab(t, [2]string{"  forwarders: [127.0.0.1:5353]\n", "  ttl: 60\n"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(lab.Warnings) != 1 || !strings.Contains(lab.Warnings[0].Message, "no forwarders") {
		t.Errorf("warnings = %v", lab.Warnings)
	}
}

func TestBadRegistryAuth(t *testing.T) {
	for _, tt := range []struct{ auth, want string }{
		{"dXNlcjpwYXNz", ""},             // user:pass
		{"dXNlcjpwYTpzcw==", ""},         // user:pa:ss (a colon in the password)
		{"", "is empty"},                 //
		{"not base64!", "is not base64"}, //
		{"Zm9v", "no colon"},             // foo
		{"OnBhc3M=", "empty user name"},  // :pass
		{"dXNlcjo=", "empty password"},   // user:
	} {
		if got := BadRegistryAuth(tt.auth); (tt.want == "" && got != "") || !strings.Contains(got, tt.want) {
			t.Errorf("BadRegistryAuth(%q) = %q, want %q", tt.auth, got, tt.want)
		}
	}
}
