// Package benchenv holds what the benchmarks share about the machine they run on: its load,
// and free loopback ports for the servers they compare.
package benchenv

import (
	"os"
	"runtime/pprof"
	"strings"
)

// LoadAvg is the machine's 1, 5 and 15 minute load averages, as /proc/loadavg gives them, so
// a benchmark's figures carry the load they were measured under.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// CPUProfile starts a CPU profile into path ("": none) and returns what stops it.
func CPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
