// Package freeport finds ports for servers that must be told their port
// before they bind: the rehearsal's lab, tests that start a peer, the
// benchmarks.
//
// A port the kernel hands out for ":0" comes from its ephemeral range
// (net.ipv4.ip_local_port_range), the same range every outgoing connection
// takes its local port from. Between the check and the server's own bind,
// any connection on the machine may take it, and a busy test run makes
// thousands. So the ports here come from below that range, where connect
// never goes, and each is checked free for both TCP and UDP on every
// address by binding it.
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// floor is the lowest port handed out: above the well-known and most
// registered service ports.
const floor = 10000

// Ports returns n distinct ports that were free for TCP and UDP a moment
// ago, none in the kernel's ephemeral range unless that range leaves no room
// below it (then the kernel picks them).
func Ports(n int) ([]int, error) {
	low, span := floor, ephemeralLow()-floor
	below := span >= 4*n
	start := 0
	if below {
		start = rand.IntN(span)
	}
	var out []int
	var hold []func() error
	defer func() {
		for _, c := range hold {
			_ = c()
		}
	}()
	for i := 0; len(out) < n; i++ {
		var port int
		switch {
		case below && i < span:
			port = low + (start+i)%span
		case !below && i < 100*n:
			port = kernelPort()
		default:
			return nil, fmt.Errorf("freeport: only %d of %d ports free for both TCP and UDP", len(out), n)
		}
		closers, ok := bindBoth(port)
		if !ok {
			continue
		}
		hold = append(hold, closers...)
		out = append(out, port)
	}
	return out, nil
}

// Port returns one port, as Ports does.
func Port() (int, error) {
	p, err := Ports(1)
	if err != nil {
		return 0, err
	}
	return p[0], nil
}

// bindBoth binds port for TCP and UDP on all addresses and returns what
// closes them, or false if either is taken.
func bindBoth(port int) ([]func() error, bool) {
	if port == 0 {
		return nil, false
	}
	addr := fmt.Sprintf(":%d", port)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, false
	}
	u, err := net.ListenPacket("udp", addr)
	if err != nil {
		l.Close()
		return nil, false
	}
	return []func() error{l.Close, u.Close}, true
}

// ephemeralLow is the first port of the kernel's ephemeral range, or 32768
// (Linux's default) when it cannot be read.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 32768
	}
	low, err := strconv.Atoi(f[0])
	if err != nil {
		return 32768
	}
	return low
}

// kernelPort is a TCP port the kernel picks (0 if it cannot).
func kernelPort() int {
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		return 0
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
