package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteReplacesWholeOrNotAtAll: a write replaces the file with the given mode; a write
// that fails, or writes fewer bytes than promised, leaves the old file and no temporary one;
// a temporary file a crash left behind is cleared.
func TestWriteReplacesWholeOrNotAtAll(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "kubeconfig")
	crashLeftover := filepath.Join(dir, ".kubeconfig.tmp-123")
	if err := os.WriteFile(crashLeftover, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Write(name, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Stream(name, func(w io.Writer) (int64, error) {
		n, _ := w.Write([]byte("ne"))
		return int64(n), errors.New("disk full")
	}, 3, 0o600); err == nil {
		t.Error("a failed write reported success")
	}
	if err := Stream(name, func(w io.Writer) (int64, error) {
		n, err := w.Write([]byte("ne"))
		return int64(n), err
	}, 3, 0o600); err == nil {
		t.Error("a short write reported success")
	}
	if b, err := os.ReadFile(name); err != nil || string(b) != "old" {
		t.Errorf("after failed writes the file holds %q (%v), want the old content", b, err)
	}
	if err := Write(name, []byte("new"), 0o640); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(name)
	if err != nil || info.Mode().Perm() != 0o640 {
		t.Errorf("mode %v (%v), want 0640", info.Mode(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("the folder holds %d entries, want only the file (no temporary copies)", len(entries))
	}
}
