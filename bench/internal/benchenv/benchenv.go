// Package benchenv holds what the benchmarks share about the machine they run on: its load,
// and free loopback ports for the servers they compare.
package benchenv

import (
	"net"
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

// FreeTCPPorts returns n distinct loopback TCP ports that were free a moment ago.
func FreeTCPPorts(n int) ([]int, error) {
	var out []int
	var hold []net.Listener
	defer func() {
		for _, l := range hold {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		hold = append(hold, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// FreeUDPPorts returns n distinct loopback UDP ports that were free a moment ago.
func FreeUDPPorts(n int) ([]int, error) {
	var out []int
	var hold []net.PacketConn
	defer func() {
		for _, c := range hold {
			c.Close()
		}
	}()
	for range n {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		hold = append(hold, pc)
		out = append(out, pc.LocalAddr().(*net.UDPAddr).Port)
	}
	return out, nil
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
