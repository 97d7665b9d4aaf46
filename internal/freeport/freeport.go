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
	"errors"
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
// ago, none in the kernel's ephemeral range.
func Ports(n int) ([]int, error) {
	low, high := floor, ephemeralLow()
	if high-low < 4*n {
		return kernelPorts(n)
	}
	var out []int
	var hold []func() error
	defer func() {
		for _, c := range hold {
			_ = c()
		}
	}()
	span := high - low
	start := rand.IntN(span)
	for i := 0; i < span && len(out) < n; i++ {
		port := low + (start+i)%span
		closers, ok := bindBoth(port)
		if !ok {
			continue
		}
		hold = append(hold, closers...)
		out = append(out, port)
	}
	if len(out) < n {
		return nil, fmt.Errorf("freeport: only %d of %d ports free in %d-%d", len(out), n, low, high-1)
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

// kernelPorts is the fallback when the ephemeral range leaves no room below
// it: ports the kernel picks, checked for UDP too.
func kernelPorts(n int) ([]int, error) {
	var out []int
	var hold []func() error
	defer func() {
		for _, c := range hold {
			_ = c()
		}
	}()
	for tries := 0; len(out) < n; tries++ {
		if tries > 100*n {
			return nil, errors.New("freeport: no port free for both TCP and UDP")
		}
		l, err := net.Listen("tcp", ":0")
		if err != nil {
			return nil, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf(":%d", port))
		if err != nil {
			l.Close()
			continue
		}
		hold = append(hold, l.Close, u.Close)
		out = append(out, port)
	}
	return out, nil
}
