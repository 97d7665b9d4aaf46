package rehearsal

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Running is what a running rehearsal writes to its runtime file, so that `cn2-appliance
// status` finds it without a lab file.
type Running struct {
	// Status is the status page's address, host:port.
	Status string `json:"status"`
	PID    int    `json:"pid"`
	Lab    string `json:"lab"`
}

// DefaultRuntimeFile is where a rehearsal says it runs: in $XDG_RUNTIME_DIR when set, else in
// the temporary folder under the user's id.
func DefaultRuntimeFile() string {
	if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
		return filepath.Join(dir, "cn2-appliance-rehearsal.json")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("cn2-appliance-rehearsal-%d.json", os.Getuid()))
}

// writeRunning writes r to path (readable by its owner only) and returns a function that
// removes it again, unless another rehearsal wrote its own there meanwhile.
func writeRunning(path string, r Running) (remove func(), err error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return nil, fmt.Errorf("rehearsal: runtime file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("rehearsal: runtime file: %w", err)
	}
	return func() {
		if cur, err := ReadRunning(path); err == nil && cur.PID == r.PID && cur.Status == r.Status {
			os.Remove(path)
		}
	}, nil
}

// ReadRunning reads the runtime file at path. It fails when there is none, or when the
// process that wrote it is gone (a rehearsal that was killed leaves its file behind).
func ReadRunning(path string) (*Running, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Running
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if r.Status == "" || r.PID <= 0 {
		return nil, fmt.Errorf("%s: no status address", path)
	}
	if err := syscall.Kill(r.PID, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return nil, fmt.Errorf("%s: the rehearsal (pid %d) no longer runs", path, r.PID)
	}
	return &r, nil
}
