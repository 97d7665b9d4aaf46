// Package testlab gives tests the example lab (configs/lab.example.yaml). Git checks the fake
// secrets out readable by everyone, which the lab loader rightly warns about; Example makes
// them private first so tests see a clean lab.
package testlab

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/cn2-appliance/cn2-appliance/pkg/config"
)

// Configs is the repository's configs folder.
func Configs() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "configs")
}

// Path is the example lab file, its secrets made private.
func Path(t testing.TB) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(Configs(), "example-secrets", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if err := os.Chmod(f, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(Configs(), "lab.example.yaml")
}

// Example loads the example lab.
func Example(t testing.TB) *config.Lab {
	t.Helper()
	lab, err := config.Load(Path(t))
	if err != nil {
		t.Fatal(err)
	}
	return lab
}
