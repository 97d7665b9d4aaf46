package dhcp

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/dhcp/dhcptest"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
	"github.com/insomniacslk/dhcp/dhcpv4"
	"golang.org/x/net/ipv4"
)

const (
	burstEnv    = "CN2_DHCP_TEST_BURST" // number of REQUESTs the burst client sends at once
	burstRelay  = "172.16.0.10"         // the burst client's address: it acts as a relay
	burstRcvbuf = 64 << 10              // its receive buffer (the kernel doubles it)
)

// burstConfig serves a /22 through the relay address, with a pool large
// enough for every burst client.
func burstConfig() Config {
	return Config{LeaseTime: time.Hour, Networks: []Network{{
		Name: "ctrl", Interface: "srv-a", Subnet: netip.MustParsePrefix("172.16.0.0/22"), ServerIP: a4("172.16.0.1"),
		Pool: [2]netip.Addr{a4("172.16.1.0"), a4("172.16.3.250")}, ServeUnknown: true,
	}}}
}

func burstIP(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{172, 16, byte(1 + i/256), byte(i)})
}

// burstClient is the helper mode run in the client namespace: a relay on
// burstRelay:67 sends n relayed REQUESTs (INIT-REBOOT, one address each) in
// one sendmmsg while reading replies on a socket with a small receive
// buffer; with ",stream" after n it prints "ack <i> <mac> <ip>" for each
// ACK as it comes (which slows its reading down); then
// "acks <number of distinct ACKs>" once no reply came for
// a second (an end-of-stream signal, not a time limit on the server).
func burstClient(spec string) error {
	nText, stream := strings.CutSuffix(spec, ",stream")
	n, err := strconv.Atoi(nText)
	if err != nil {
		return err
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(burstRelay), Port: 67})
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetReadBuffer(burstRcvbuf); err != nil {
		return err
	}
	got := make(chan int, 1)
	go func() {
		acks := map[uint32]bool{}
		buf := make([]byte, 4096)
		for len(acks) < n {
			_ = conn.SetReadDeadline(time.Now().Add(time.Second))
			k, err := conn.Read(buf)
			if err != nil {
				break
			}
			if m, err := dhcpv4.FromBytes(buf[:k]); err == nil && m.MessageType() == dhcpv4.MessageTypeAck {
				xid := binary.BigEndian.Uint32(m.TransactionID[:])
				if !acks[xid] && stream {
					fmt.Printf("ack %d %s %s\n", xid-1, m.ClientHWAddr, m.YourIPAddr)
				}
				acks[xid] = true
			}
		}
		got <- len(acks)
	}()
	msgs := make([]ipv4.Message, n)
	server := &net.UDPAddr{IP: net.ParseIP("172.16.0.1"), Port: 67}
	for i := range msgs {
		mac := net.HardwareAddr{0x02, 0, 0, 0xdd, byte(i >> 8), byte(i)}
		req := request(mac, burstIP(i), netip.Addr{}, dhcpv4.WithGatewayIP(net.ParseIP(burstRelay)))
		binary.BigEndian.PutUint32(req.TransactionID[:], uint32(i+1))
		msgs[i] = ipv4.Message{Buffers: [][]byte{req.ToBytes()}, Addr: server}
	}
	pc := ipv4.NewPacketConn(conn)
	for sent := 0; sent < n; {
		k, err := pc.WriteBatch(msgs[sent:], 0)
		if err != nil {
			return err
		}
		sent += k
	}
	fmt.Printf("acks %d\n", <-got)
	return nil
}

// TestBurstDoesNotOverflowClient: a relay sends 700 REQUESTs at once and
// reads the ACKs on a socket with a 128 KiB receive buffer. Every ACK
// arrives and the client namespace counts no receive-buffer drop: the
// server's replies leave paced, not as one burst per lease commit group
// (which, before pacing, dropped hundreds here).
func TestBurstDoesNotOverflowClient(t *testing.T) {
	tp := topo(t)
	dir := t.TempDir()
	srv := startServer(t, tp, burstConfig(), dir)
	if err := run(tp.Cmd(tp.C1, "ip", "addr", "add", burstRelay+"/24", "dev", "eth0")); err != nil {
		t.Fatal(err)
	}
	const n = 700
	before, err := dhcptest.UDPStats(tp.C1)
	if err != nil {
		t.Fatal(err)
	}
	cmd := tp.Cmd(tp.C1, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), burstEnv+"="+strconv.Itoa(n))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("burst client: %v\n%s", err, out)
	}
	after, err := dhcptest.UDPStats(tp.C1)
	if err != nil {
		t.Fatal(err)
	}
	acks := -1
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "acks "); ok {
			acks, _ = strconv.Atoi(v)
		}
	}
	drops := after["RcvbufErrors"] - before["RcvbufErrors"]
	t.Logf("%d of %d ACKs received, %d client receive-buffer drops", acks, n, drops)
	if drops != 0 || acks != n {
		t.Errorf("client: %d of %d ACKs, %d receive-buffer drops (Udp RcvbufErrors); want all, and none", acks, n, drops)
	}
	srv.stop(t)
}

// TestSIGKILLMidBurstKeepsAckedLeases: the server is SIGKILLed while it is
// answering a burst of 700 REQUESTs, once the client has seen 150 ACKs.
// After the crash every lease the client saw ACKed is in the store (journal
// replayed), at the address the ACK gave, and no address is held twice; a
// restarted server serves on from that state.
func TestSIGKILLMidBurstKeepsAckedLeases(t *testing.T) {
	tp := topo(t)
	dir := t.TempDir()
	srv := startServer(t, tp, burstConfig(), dir)
	if err := run(tp.Cmd(tp.C1, "ip", "addr", "add", burstRelay+"/24", "dev", "eth0")); err != nil {
		t.Fatal(err)
	}
	cmd := tp.Cmd(tp.C1, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), burstEnv+"=700,stream")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]string{} // mac -> ip
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 4 && f[0] == "ack" {
			acked[f[2]] = f[3]
			if len(acked) == 150 {
				srv.kill()
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("burst client: %v", err)
	}
	if len(acked) < 150 || len(acked) == 700 {
		t.Fatalf("%d ACKs: the kill did not land mid-burst", len(acked))
	}
	st, err := store.Open(filepath.Join(dir, "state"))
	if err != nil {
		t.Fatalf("reopen after SIGKILL: %v", err)
	}
	for mac, ip := range acked {
		l, ok, err := st.Lease("ctrl", mac)
		if err != nil || !ok || l.IP.String() != ip {
			t.Errorf("ACKed %s %s: stored %+v, %v, %v", mac, ip, l, ok, err)
		}
	}
	ls, _ := st.Leases("ctrl")
	t.Logf("%d ACKed before the kill, %d leases stored", len(acked), len(ls))
	checkStoreUnique(t, st)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	srv = startServer(t, tp, burstConfig(), dir)
	srv.stop(t)
}
