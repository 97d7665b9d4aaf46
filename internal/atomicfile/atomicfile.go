// Package atomicfile writes files whole or not at all: into a temporary name next to the
// file, synced, then renamed over it. A crash leaves the old file or the new one, never half
// of either.
package atomicfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Write writes data to name with mode perm.
func Write(name string, data []byte, perm os.FileMode) error {
	return Stream(name, func(w io.Writer) (int64, error) {
		n, err := w.Write(data)
		return int64(n), err
	}, int64(len(data)), perm)
}

// Stream writes name through write, checks that it wrote want bytes (want < 0: any) and gives
// the file mode perm. Temporary files that an earlier crash left next to name are removed
// first.
func Stream(name string, write func(io.Writer) (int64, error), want int64, perm os.FileMode) error {
	pattern := "." + filepath.Base(name) + ".tmp-*"
	if stale, err := filepath.Glob(filepath.Join(filepath.Dir(name), pattern)); err == nil {
		for _, s := range stale {
			_ = os.Remove(s)
		}
	}
	f, err := os.CreateTemp(filepath.Dir(name), pattern)
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after a successful rename there is nothing left to remove
	n, err := write(f)
	if err == nil && want >= 0 && n != want {
		err = fmt.Errorf("wrote %d bytes, want %d", n, want)
	}
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(f.Name(), name)
}
