package dhcp

// The attack suite of issue 17, against the server run as a process in the server
// namespace: a flood of DISCOVERs from random MACs, malformed packets, and SIGKILL under
// perfdhcp load with a lease audit. The other parts of that suite: FuzzHandler
// (fuzz_test.go), TestPerfdhcp and TestSIGKILLKeepsLeases (durability_test.go); malformed
// DNS is pkg/dns TestMalformedQueriesInNamespace, TFTP and HTTP traversal pkg/pxe
// TestTFTPRefusals and TestHTTPScripts.

import (
	"encoding/binary"
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/netnstest"
	"github.com/cn2-appliance/cn2-appliance/pkg/dhcp/dhcptest"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
)

// waitLog waits until the helper's log matches re (a bound for a loaded machine, not a
// timing check).
func waitLog(t *testing.T, p *serverProc, re *regexp.Regexp) {
	t.Helper()
	for range 1200 {
		if re.MatchString(p.stderr.String()) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the server never logged %s:\n%s", re, p.stderr)
}

// reservedLease runs udhcpc in ns as mac and returns the address it bound.
func reservedLease(t *testing.T, tp *dhcptest.Topology, ns, mac string) string {
	t.Helper()
	if err := tp.SetMAC(ns, mac); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sc, out := hook(t, dir, "reserved")
	if err := clients[0].run(t, tp, ns, dir, sc); err != nil {
		t.Fatal(err)
	}
	return bound(t, out)["ip"]
}

// TestDiscoverFloodLogsBounded: perfdhcp sends 5,000 DISCOVERs (DORA; -i with -n is refused
// by perfdhcp 2.2) from 5,000 random MACs to a pool
// of 10 addresses. The server writes a bounded number of lines (the first "no address to
// offer" and then one per interval with the count of those suppressed), and reserved
// nodes, on the flooded network and on the other, still get their addresses.
func TestDiscoverFloodLogsBounded(t *testing.T) {
	tp := topo(t, "perfdhcp", "busybox")
	dir := t.TempDir()
	cfg := netConfig()
	cfg.Networks[0].Pool = [2]netip.Addr{a4("172.16.0.50"), a4("172.16.0.59")}
	srv := startServer(t, tp, cfg, dir)
	if err := tp.SetMAC(tp.C1, "02:00:00:00:ee:01"); err != nil {
		t.Fatal(err)
	}
	if err := run(tp.Cmd(tp.C1, "ip", "addr", "add", "172.16.0.10/24", "dev", "eth0")); err != nil {
		t.Fatal(err)
	}
	perf := tp.Cmd(tp.C1, "perfdhcp", "-4", "-l", "eth0", "-r", "1000", "-n", "5000", "-R", "5000", "-W", "1000000")
	var perfOut lockedBuffer
	perf.Stdout, perf.Stderr = &perfOut, &perfOut
	if err := perf.Start(); err != nil {
		t.Fatal(err)
	}
	if ip := reservedLease(t, tp, tp.C2, "52:54:00:00:01:21"); ip != "10.16.0.21" { // during the flood
		t.Errorf("reserved node on data got %q during the flood, want 10.16.0.21", ip)
	}
	if err := perf.Wait(); err != nil && !isExit(err, 3) { // 3: exchanges incomplete, as they must be
		t.Fatalf("perfdhcp: %v\n%s", err, perfOut.String())
	}
	sent := perfStat(perfOut.String(), "DISCOVER-OFFER", "sent packets")
	if sent < 5000 {
		t.Fatalf("perfdhcp sent %d DISCOVERs, want 5000:\n%s", sent, perfOut.String())
	}
	if ip := reservedLease(t, tp, tp.C1, "52:54:00:00:00:21"); ip != "172.16.0.21" { // the pool is exhausted
		t.Errorf("reserved node on ctrl got %q after the flood, want 172.16.0.21", ip)
	}
	summary := regexp.MustCompile(`msg="dhcp: no address to offer".* suppressed=(\d+)`)
	waitLog(t, srv, summary)
	logs := srv.stderr.String()
	var lines, noAddr, suppressed int
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		if strings.Contains(l, "level=DEBUG") { // the helper logs at debug; production does not
			continue
		}
		lines++
		if strings.Contains(l, `msg="dhcp: no address to offer"`) {
			noAddr++
			if m := summary.FindStringSubmatch(l); m != nil {
				n, _ := strconv.Atoi(m[1])
				suppressed += n
			}
		}
	}
	t.Logf("%d DISCOVERs: %d log lines above debug, %d of them 'no address to offer', %d suppressed", sent, lines, noAddr, suppressed)
	// One line per interval (ratelog.DefaultInterval) and its summary: a flood that lasted
	// a minute on a loaded machine still stays within these bounds.
	if noAddr > 10 || lines > 30 {
		t.Errorf("%d 'no address to offer' lines, %d lines in all, for %d DISCOVERs; want at most 10 and 30", noAddr, lines, sent)
	}
	if suppressed < 1000 {
		t.Errorf("summary lines count %d suppressed DISCOVERs, want most of the %d", suppressed, sent)
	}
	srv.stop(t)
}

// bootRequest is a well-formed BOOTREQUEST header (236 bytes) from mac, without the cookie.
func bootRequest(mac net.HardwareAddr) []byte {
	b := make([]byte, 236)
	b[0], b[1], b[2] = 1, 1, 6 // BOOTREQUEST, Ethernet, hlen 6
	binary.BigEndian.PutUint32(b[4:], 0x1234abcd)
	copy(b[28:], mac)
	return b
}

var cookie = []byte{99, 130, 83, 99}

// malformedDHCP are packets no client should send: truncated, with a bad cookie, with
// options that overflow the packet or loop through option overload, and other nonsense.
func malformedDHCP() map[string][]byte {
	mac := net.HardwareAddr{0x02, 0, 0, 0, 0xaa, 0x01}
	req := func(opts ...byte) []byte { return append(append(bootRequest(mac), cookie...), opts...) }
	discover := []byte{53, 1, 1}
	overloadLoop := req(append(append([]byte{}, discover...), 52, 1, 3, 255)...)
	// sname (44..107) and file (108..235) hold options that overload again, with no END.
	copy(overloadLoop[44:], []byte{52, 1, 3, 52, 1, 3})
	copy(overloadLoop[108:], []byte{52, 1, 3, 12, 200})
	huge := make([]byte, 1472)
	for i := range huge {
		huge[i] = 0xff
	}
	badHlen := req(append(append([]byte{}, discover...), 255)...)
	badHlen[2] = 255
	reply := req(append(append([]byte{}, discover...), 255)...)
	reply[0] = 2
	return map[string][]byte{
		"empty":                {},
		"one byte":             {1},
		"truncated header":     bootRequest(mac)[:100],
		"header only":          bootRequest(mac),
		"header, half cookie":  append(bootRequest(mac), 99, 130),
		"bad cookie":           append(append(bootRequest(mac), 1, 2, 3, 4), append(discover, 255)...),
		"no options":           req(),
		"no END":               req(discover...),
		"option past the end":  req(53, 1, 1, 12, 200, 'a', 'b'),
		"length past the end":  req(53, 200),
		"only PAD":             req(make([]byte, 1000)...),
		"overload loop":        overloadLoop,
		"overload, no fields":  req(53, 1, 1, 52, 1, 3, 255),
		"two message types":    req(53, 1, 1, 53, 1, 3, 255),
		"message type 0":       req(53, 1, 0, 255),
		"message type 255":     req(53, 1, 255, 255),
		"empty message type":   req(53, 0, 255),
		"request, no address":  req(53, 1, 3, 50, 2, 1, 2, 255),
		"hlen 255":             badHlen,
		"BOOTREPLY":            reply,
		"all 0xff":             huge,
		"client id overflow":   req(53, 1, 1, 61, 255, 1),
		"parameter list empty": req(53, 1, 1, 55, 0, 255),
	}
}

// TestMalformedDHCPInNamespace sends every malformed packet, three times, unicast and
// broadcast to the server from a client namespace; the server stays up and a reserved
// node gets its address afterwards.
func TestMalformedDHCPInNamespace(t *testing.T) {
	tp := topo(t, "busybox")
	dir := t.TempDir()
	srv := startServer(t, tp, netConfig(), dir)
	if err := run(tp.Cmd(tp.C1, "ip", "addr", "add", "172.16.0.240/24", "dev", "eth0")); err != nil {
		t.Fatal(err)
	}
	err := netnstest.InNetns(tp.C1, func() error {
		conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(172, 16, 0, 240), Port: 68})
		if err != nil {
			return err
		}
		defer conn.Close()
		raw, err := conn.SyscallConn()
		if err != nil {
			return err
		}
		_ = raw.Control(func(fd uintptr) { _ = setBroadcast(int(fd)) })
		for range 3 {
			for _, p := range malformedDHCP() {
				for _, dst := range []net.IP{net.IPv4(172, 16, 0, 1), net.IPv4bcast} {
					if _, err := conn.WriteToUDP(p, &net.UDPAddr{IP: dst, Port: 67}); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if ip := reservedLease(t, tp, tp.C1, "52:54:00:00:00:21"); ip != "172.16.0.21" {
		t.Errorf("reserved node got %q after the malformed packets, want 172.16.0.21", ip)
	}
	if srv.cmd.ProcessState != nil || strings.Contains(srv.stderr.String(), "panic") {
		t.Errorf("server: %v\n%s", srv.cmd.ProcessState, srv.stderr)
	}
	srv.stop(t)
}

// TestSIGKILLUnderPerfdhcpLoad: perfdhcp runs DORA exchanges for 120 clients while the
// server is SIGKILLed mid-run and started again on the same state. A passive capture in the
// client namespace records every DHCPACK on the wire; afterwards the store holds each
// client's last acknowledged address (none lost), and no address is in two leases.
func TestSIGKILLUnderPerfdhcpLoad(t *testing.T) {
	tp := topo(t, "perfdhcp")
	dir := t.TempDir()
	cfg := netConfig()
	cfg.Networks[0].Pool = [2]netip.Addr{a4("172.16.0.100"), a4("172.16.0.250")}
	srv := startServer(t, tp, cfg, dir)
	if err := tp.SetMAC(tp.C1, "02:00:00:00:ee:01"); err != nil {
		t.Fatal(err)
	}
	if err := run(tp.Cmd(tp.C1, "ip", "addr", "add", "172.16.0.10/24", "dev", "eth0")); err != nil {
		t.Fatal(err)
	}
	started, stop := make(chan error, 1), make(chan struct{})
	type captured struct {
		acks []ack
		err  error
	}
	done := make(chan captured, 1)
	var seen atomic.Int64
	go func() {
		acks, err := captureACKs(tp.C1, started, stop, &seen)
		done <- captured{acks, err}
	}()
	if err := <-started; err != nil {
		t.Fatalf("capture: %v", err)
	}
	perf := tp.Cmd(tp.C1, "perfdhcp", "-4", "-l", "eth0", "-r", "100", "-p", "12", "-R", "120", "-W", "1000000")
	var perfOut lockedBuffer
	perf.Stdout, perf.Stderr = &perfOut, &perfOut
	if err := perf.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill once the server has acknowledged a few hundred exchanges, while perfdhcp goes on.
	for i := 0; seen.Load() < 300 && i < 1500; i++ { // a bound for a loaded machine
		time.Sleep(20 * time.Millisecond)
	}
	srv.kill()
	atKill := seen.Load()
	srv = startServer(t, tp, cfg, dir)
	if err := perf.Wait(); err != nil && !isExit(err, 3) {
		t.Fatalf("perfdhcp: %v\n%s", err, perfOut.String())
	}
	close(stop)
	c := <-done
	if c.err != nil {
		t.Fatalf("capture: %v", c.err)
	}
	srv.stop(t)
	last := map[string]string{} // MAC -> last acknowledged address
	for _, a := range c.acks {
		last[a.mac] = a.ip
	}
	t.Logf("perfdhcp: %d ACKs received; capture: %d ACKs (%d before the kill) for %d clients",
		perfStat(perfOut.String(), "REQUEST-ACK", "received packets"), len(c.acks), atKill, len(last))
	if atKill < 300 || len(c.acks) <= int(atKill) {
		t.Fatalf("the kill did not land under load: %d ACKs before it, %d in all:\n%s", atKill, len(c.acks), perfOut.String())
	}
	if len(last) < 20 {
		t.Fatalf("only %d clients acknowledged; the load did not happen:\n%s", len(last), perfOut.String())
	}
	st, err := store.Open(filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for mac, ip := range last {
		l, ok, err := st.LeaseByIP("ctrl", netip.MustParseAddr(ip))
		if err != nil || !ok || l.MAC != mac {
			t.Errorf("acknowledged %s -> %s lost: store has %+v (found %v, %v)", mac, ip, l, ok, err)
		}
	}
	checkStoreUnique(t, st)
}
