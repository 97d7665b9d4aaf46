package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/invalid")

// TestMain makes the test secrets private: git checks files out 0644, and readable secrets
// would add permission warnings to every test.
func TestMain(m *testing.M) {
	files, _ := filepath.Glob("testdata/secrets/*")
	for _, f := range files {
		if err := os.Chmod(f, 0o600); err != nil {
			panic(err)
		}
	}
	os.Exit(m.Run())
}

func TestValidLabs(t *testing.T) {
	t.Setenv("CN2_SNO_BMC_PASSWORD", "FAKE-SNO-PASSWORD")
	for _, file := range append(mustGlob(t, "testdata/valid/*.yaml"), "../../configs/lab.example.yaml") {
		t.Run(filepath.Base(file), func(t *testing.T) {
			lab, err := Load(file)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			for _, w := range lab.Warnings {
				if !strings.Contains(w.Message, "readable by ") {
					t.Errorf("unexpected warning: %s", w)
				}
			}
		})
	}
}

// TestInvalidLabs checks each broken lab file against its golden error text.
// Run with -update to rewrite the golden files after a deliberate change, then read the diff.
func TestInvalidLabs(t *testing.T) {
	testdata, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	files := mustGlob(t, "testdata/invalid/*.yaml")
	if len(files) < 15 {
		t.Fatalf("want at least 15 broken lab files, found %d", len(files))
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			_, err := Load(file)
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("Load = %v, want a *config.Error", err)
			}
			got := strings.ReplaceAll(cerr.Error(), testdata, "$TESTDATA") + "\n"
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden file (run with -update to create it): %v", err)
			}
			if got != string(want) {
				t.Errorf("errors differ from %s\n--- got\n%s--- want\n%s", golden, got, want)
			}
			for _, p := range cerr.Problems {
				if p.File != file || (p.Pos.Line == 0 && p.Path != "") {
					t.Errorf("problem without a place: %+v", p)
				}
			}
		})
	}
}

func mustGlob(t *testing.T, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("glob %s: %v (%d files)", pattern, err, len(files))
	}
	return files
}
