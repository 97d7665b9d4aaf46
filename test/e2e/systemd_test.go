package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestSystemdUnit checks the unit as `make install` installs it: `systemd-analyze verify`
// must have nothing to say about it (it warns about unknown keys and bad values on stderr and
// still exits 0, so any output fails the test), and `systemd-analyze security --offline=true`
// must rate its exposure at most 2.0.
//
// Both run with --root= on a folder that `make install DESTDIR=` filled, so they read the
// real unit file and find the binary where the unit says it is. systemd-analyze also needs
// what the OS would provide there (the units it depends on, such as sysinit.target and
// network-online.target, and the commands of its Exec lines outside our install, if any):
// those are copied from this machine.
func TestSystemdUnit(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("needs systemd-analyze on PATH (Debian package systemd)")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("needs make to run `make install`")
	}
	bin := binary(t)
	root := t.TempDir()
	// -o build: install the binary binary() built instead of building another into the tree.
	sh(t, "make", "-C", "../..", "-o", "build", "install", "BIN="+bin, "DESTDIR="+root, "PREFIX=/usr/local")
	const unitPath = "/etc/systemd/system/cn2-appliance.service"
	installed, err := os.ReadFile(filepath.Join(root, unitPath))
	if err != nil {
		t.Fatalf("make install did not install the unit: %v", err)
	}
	source, err := os.ReadFile("../../systemd/cn2-appliance.service")
	if err != nil || string(source) != string(installed) {
		t.Fatalf("the installed unit differs from systemd/cn2-appliance.service (%v)", err)
	}
	if !strings.Contains(string(source), "\nLimitNOFILE=65536\n") {
		t.Error("the unit does not raise LimitNOFILE to 65536, the value the README's HTTP caps are worked out from")
	}

	// The OS part of the root: this machine's system units and Exec commands.
	osUnits := "/usr/lib/systemd/system"
	if _, err := os.Stat(osUnits); err != nil {
		osUnits = "/lib/systemd/system"
	}
	for _, l := range []string{"bin", "sbin", "lib", "lib64"} { // merged /usr, as on this machine
		if target, err := os.Readlink("/" + l); err == nil {
			target = strings.TrimPrefix(target, "/") // inside the root, not to this machine's
			if err := os.MkdirAll(filepath.Join(root, target), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, filepath.Join(root, l)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.MkdirAll(filepath.Join(root, filepath.Dir(osUnits)), 0o755); err != nil {
		t.Fatal(err)
	}
	sh(t, "cp", "-a", osUnits, filepath.Join(root, filepath.Dir(osUnits)))
	for _, c := range execCommands(t, string(installed)) {
		if strings.HasPrefix(c, "/usr/local/") { // ours: make install must have put it there
			continue
		}
		if _, err := os.Stat(filepath.Join(root, c)); err == nil {
			continue
		}
		host, err := filepath.EvalSymlinks(c)
		if err != nil {
			t.Fatalf("the unit runs %s, which this machine lacks too: %v", c, err)
		}
		b, err := os.ReadFile(host)
		if err == nil {
			if err = os.MkdirAll(filepath.Dir(filepath.Join(root, c)), 0o755); err == nil {
				err = os.WriteFile(filepath.Join(root, c), b, 0o755)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	out, err := exec.Command(analyze, "verify", "--root="+root, unitPath).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}

	out, err = exec.Command(analyze, "security", "--offline=true", "--root="+root, unitPath).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for cn2-appliance\.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security printed no exposure level:\n%s", out)
	}
	score, _ := strconv.ParseFloat(string(m[1]), 64)
	t.Logf("systemd-analyze security --offline=true: exposure %.1f", score)
	if score > 2.0 {
		t.Errorf("exposure %.1f is above 2.0:\n%s", score, out)
	}
}

// execCommands returns the absolute paths of the programs the unit's Exec*= lines run.
func execCommands(t *testing.T, unit string) []string {
	t.Helper()
	var cmds []string
	sc := bufio.NewScanner(strings.NewReader(unit))
	for sc.Scan() {
		key, val, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok || !strings.HasPrefix(key, "Exec") {
			continue
		}
		fields := strings.Fields(val)
		if len(fields) == 0 {
			continue
		}
		c := strings.TrimLeft(fields[0], "-@:+!|") // systemd's command prefixes
		if !filepath.IsAbs(c) {
			t.Fatalf("%s=%s: the unit should name its programs by absolute path", key, val)
		}
		cmds = append(cmds, c)
	}
	return cmds
}
