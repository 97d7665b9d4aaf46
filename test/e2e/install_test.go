package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMakeInstallValidates runs `make install DESTDIR=` into a temporary folder and then
// `cn2-appliance validate` on the example it installed under the doc folder: it must be whole
// (its secrets and manifests installed beside it) and validate without a warning. make install
// must not put a lab under /etc/cn2-appliance: that is the operator's.
func TestMakeInstallValidates(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("needs make to run `make install`")
	}
	bin := binary(t)
	root := t.TempDir()
	sh(t, "make", "-C", "../..", "-o", "build", "install", "BIN="+bin, "DESTDIR="+root, "PREFIX=/usr/local")

	if _, err := os.Stat(filepath.Join(root, "etc/cn2-appliance/lab.yaml")); !os.IsNotExist(err) {
		t.Errorf("make install put a lab in /etc/cn2-appliance (%v); it should install none", err)
	}
	if info, err := os.Stat(filepath.Join(root, "etc/cn2-appliance")); err != nil || !info.IsDir() || info.Mode().Perm() != 0o750 {
		t.Errorf("/etc/cn2-appliance: %v %v, want a 0750 folder", info, err)
	}
	example := filepath.Join(root, "usr/local/share/doc/cn2-appliance/examples/lab.example.yaml")
	out, err := exec.Command(filepath.Join(root, "usr/local/bin/cn2-appliance"), "validate", "-c", example).CombinedOutput()
	if err != nil {
		t.Fatalf("validate of the installed example: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "warning") {
		t.Errorf("validate of the installed example warns:\n%s", out)
	}
	t.Logf("%s", out)
}
