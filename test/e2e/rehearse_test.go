package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestRehearseCommand runs the README's run command end to end: the whole appliance on
// loopback against the installer simulator, to installed. It needs no root.
func TestRehearseCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("the rehearsal runs for about half a minute")
	}
	bin := binary(t)
	dir := t.TempDir()
	copyTree(t, "../../configs", dir)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "rehearse", "-c", filepath.Join(dir, "lab.example.yaml"),
		"--time-scale", "0.01", "--log-level", "warn", "--keep-state", "--state-dir", filepath.Join(dir, "state"))
	out, err := cmd.CombinedOutput()
	text := string(out)
	if err != nil {
		t.Fatalf("rehearse: %v\n%s", err, text)
	}
	for _, want := range []string{
		"rehearsal: status page http://127.0.0.1:",
		"the installer holds 1 cluster, 1 infra env, 5 hosts",
		"5 network boots through DHCP, TFTP and HTTP; 0 spec violations",
		"rehearsal: watch-install          done",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if regexp.MustCompile(`(?m)^\s+\S+\s+(failed|pending)`).MatchString(text) {
		t.Errorf("a step did not finish:\n%s", text)
	}
	for _, f := range []string{"kubeconfig", "kubeadmin-password"} {
		info, err := os.Stat(filepath.Join(dir, "state", "auth", f))
		if err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", f, info, err)
		}
	}
	for _, secret := range []string{"FAKE-EXAMPLE-OFFLINE-TOKEN", "ZmFrZS11c2VyOkZBS0UtRVhBTVBMRS1OT1QtQS1SRUFMLVNFQ1JFVA=="} {
		if strings.Contains(text, secret) {
			t.Errorf("the output shows a secret (%s...)", secret[:10])
		}
	}
}
