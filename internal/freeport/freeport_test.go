package freeport

import (
	"fmt"
	"net"
	"testing"
)

func TestPortsAreFreeDistinctAndBelowTheEphemeralRange(t *testing.T) {
	ports, err := Ports(50)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	low := ephemeralLow()
	for _, p := range ports {
		if seen[p] {
			t.Errorf("port %d handed out twice", p)
		}
		seen[p] = true
		if low-floor >= 200 && (p < floor || p >= low) {
			t.Errorf("port %d outside %d-%d", p, floor, low-1)
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			t.Errorf("port %d not free for TCP: %v", p, err)
			continue
		}
		l.Close()
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			t.Errorf("port %d not free for UDP: %v", p, err)
			continue
		}
		u.Close()
	}
}

// TestTakenPortsAreSkipped holds a port for UDP only and one for TCP only:
// neither may be handed out.
func TestTakenPortsAreSkipped(t *testing.T) {
	first, err := Ports(2)
	if err != nil {
		t.Fatal(err)
	}
	u, err := net.ListenPacket("udp", fmt.Sprintf(":%d", first[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	l, err := net.Listen("tcp", fmt.Sprintf(":%d", first[1]))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for range 200 {
		p, err := Port()
		if err != nil {
			t.Fatal(err)
		}
		if p == first[0] || p == first[1] {
			t.Fatalf("port %d handed out while taken", p)
		}
	}
}
