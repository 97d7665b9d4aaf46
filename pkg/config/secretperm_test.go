package config

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSecretExposure is the warning's decision: others never read a secret; a group may when it
// is the service's own (the README's root:cn2-appliance 0640), and the advice never says to make
// the file unreadable for that group.
func TestSecretExposure(t *testing.T) {
	const own, foreign = 998, 1234
	trusted := func(gid int) bool { return gid == own }
	for _, c := range []struct {
		perm fs.FileMode
		gid  int
		want string // "" for no warning
	}{
		{0o600, foreign, ""},
		{0o400, foreign, ""},
		{0o640, own, ""},
		{0o660, own, ""},
		{0o640, foreign, "readable by group 1234 (mode 0640), which is not the service's"},
		{0o604, own, "readable by others (mode 0604)"},
		{0o644, own, "readable by others (mode 0644)"},
		{0o640, -1, "which is not the service's"},
	} {
		got := secretExposure("/etc/cn2-appliance/pull-secret.json", c.perm, c.gid, trusted)
		switch {
		case c.want == "" && got != "":
			t.Errorf("%04o gid %d: warns %q", c.perm, c.gid, got)
		case c.want != "" && !strings.Contains(got, c.want):
			t.Errorf("%04o gid %d: %q, want it to say %q", c.perm, c.gid, got, c.want)
		case c.want != "" && (!strings.Contains(got, "0640 owned by root with group cn2-appliance") || strings.Contains(got, "chmod 600")):
			t.Errorf("%04o gid %d: %q does not say what is right", c.perm, c.gid, got)
		}
	}
}

// TestSecretPermissionWarnings loads the example lab with its secrets in three setups: the
// README's (group-readable by the service's group: no warning), world-readable (one warning per
// secret file), and, as root, group-readable by a foreign group (one warning per secret file).
func TestSecretPermissionWarnings(t *testing.T) {
	dir := t.TempDir()
	copyExample(t, dir)
	// The copy's secrets stand for real ones: without the example's marker of fake secrets.
	if err := os.Remove(filepath.Join(dir, "example-secrets", FakeExampleMarker)); err != nil {
		t.Fatal(err)
	}
	secrets, err := filepath.Glob(filepath.Join(dir, "example-secrets", "*"))
	if err != nil || len(secrets) == 0 {
		t.Fatalf("no secrets copied: %v", err)
	}
	setup := func(perm fs.FileMode, gid int) []Problem {
		t.Helper()
		for _, f := range secrets {
			if err := os.Chmod(f, perm); err != nil {
				t.Fatal(err)
			}
			if gid >= 0 {
				if err := os.Chown(f, -1, gid); err != nil {
					t.Fatal(err)
				}
			}
		}
		lab, err := Load(filepath.Join(dir, "lab.example.yaml"))
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		return lab.Warnings
	}

	if ws := setup(0o640, os.Getegid()); len(ws) != 0 {
		t.Errorf("0640 with the service's group: %d warnings, want none: %v", len(ws), ws)
	}
	ws := setup(0o644, -1)
	if len(ws) == 0 {
		t.Fatal("0644: no warning")
	}
	for _, w := range ws {
		if !strings.Contains(w.Message, "readable by others (mode 0644)") {
			t.Errorf("0644: %s", w)
		}
	}
	perFile := len(ws)
	if os.Geteuid() != 0 {
		t.Log("not root: the foreign-group case needs chown; skipped")
		return
	}
	ws = setup(0o640, 54321)
	if len(ws) != perFile {
		t.Errorf("0640 with a foreign group: %d warnings, want %d", len(ws), perFile)
	}
	for _, w := range ws {
		if !strings.Contains(w.Message, "readable by group 54321 (mode 0640), which is not the service's") {
			t.Errorf("foreign group: %s", w)
		}
	}
}

// TestExampleSecretsDoNotWarn: the project's example secrets, world-readable as git checks
// them out, draw no warning (their folder holds the marker of published fakes); a marker that
// is not one (another first line) switches nothing off.
func TestExampleSecretsDoNotWarn(t *testing.T) {
	dir := t.TempDir()
	copyExample(t, dir)
	secrets, _ := filepath.Glob(filepath.Join(dir, "example-secrets", "*"))
	for _, f := range secrets {
		if err := os.Chmod(f, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	lab, err := Load(filepath.Join(dir, "lab.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(lab.Warnings) != 0 {
		t.Errorf("the example's fake secrets at 0644: %d warnings, want none: %v", len(lab.Warnings), lab.Warnings)
	}
	if err := os.WriteFile(filepath.Join(dir, "example-secrets", FakeExampleMarker), []byte("\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if lab, err = Load(filepath.Join(dir, "lab.example.yaml")); err != nil || len(lab.Warnings) != 7 {
		t.Errorf("with an empty marker: %v, %d warnings, want the 7 of the example's secret references", err, len(lab.Warnings))
	}
}

// copyExample copies configs/lab.example.yaml with its secrets and manifests into dir.
func copyExample(t *testing.T, dir string) {
	t.Helper()
	src := "../../configs"
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}
