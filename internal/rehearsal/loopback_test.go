package rehearsal

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/facebook/time/ntp/protocol"

	"github.com/cn2-appliance/cn2-appliance/internal/testlab"
	"github.com/cn2-appliance/cn2-appliance/pkg/appliance"
	"github.com/cn2-appliance/cn2-appliance/pkg/ntp"
)

// TestLoopbackMovesNTP: on loopback, the NTP server listens on each moved network address
// at a free high port (no root needed), each network is handed its own moved address, and
// the server answers there.
func TestLoopbackMovesNTP(t *testing.T) {
	lab, err := onLoopback(testlab.Example(t), Options{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if lab.NTP.Port < 1024 {
		t.Fatalf("NTP port %d needs root", lab.NTP.Port)
	}
	port := uint16(lab.NTP.Port)
	cfg := appliance.NTPConfig(lab)
	want := []netip.AddrPort{netip.AddrPortFrom(netip.MustParseAddr("127.1.0.1"), port), netip.AddrPortFrom(netip.MustParseAddr("127.2.0.1"), port)}
	if !slices.Equal(cfg.Listen, want) {
		t.Fatalf("NTP listens on %v, want %v", cfg.Listen, want)
	}
	if got := lab.NTPEndpoints("data"); !slices.Equal(got, want[1:]) {
		t.Errorf("data is handed %v, want %v", got, want[1:])
	}

	s, err := ntp.New(cfg, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	select {
	case <-s.Ready():
	case err := <-done:
		done <- nil
		t.Fatal(err)
	}
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(want[1]))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := protocol.Packet{Settings: 4<<3 | 3}
	b, _ := req.Bytes()
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := c.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 128)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no NTP answer on %s: %v", want[1], err)
	}
	if p, err := protocol.BytesToPacket(buf[:n]); err != nil || p.Settings&7 != 4 {
		t.Errorf("answer %+v, %v", p, err)
	}
}
