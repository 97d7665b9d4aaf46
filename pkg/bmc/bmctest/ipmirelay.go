package bmctest

import (
	"errors"
	"net"
	"slices"
	"sync"
	"testing"
)

// IPMIRelay forwards RMCP+ datagrams between clients and a BMC (ipmi_sim) on loopback and loses
// some on request: a reply the BMC sends once something has happened (the payloads are
// encrypted, so the relay goes by what the BMC did, not by what the datagram says), or
// everything.
type IPMIRelay struct {
	Host string
	Port int

	ln  *net.UDPConn
	bmc *net.UDPAddr
	wg  sync.WaitGroup
	mu  sync.Mutex
	ups map[string]*net.UDPConn // client address -> its socket towards the BMC
	in  int                     // datagrams received from clients
	// synced: a syncMark datagram was read
	synced chan struct{}
	// dropWhen: lose the first reply sent once it holds; silenceAfter: then lose everything;
	// silent: lose everything now.
	dropWhen             func() bool
	silenceAfter, silent bool
}

// StartIPMIRelay starts a relay in front of sim on a free loopback port; it stops when the
// test ends.
func StartIPMIRelay(t testing.TB, sim *IPMISim) *IPMIRelay {
	t.Helper()
	ln, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	r := &IPMIRelay{Host: "127.0.0.1", Port: ln.LocalAddr().(*net.UDPAddr).Port, ln: ln,
		bmc: &net.UDPAddr{IP: net.ParseIP(sim.Host), Port: sim.Port}, ups: map[string]*net.UDPConn{}, synced: make(chan struct{})}
	r.wg.Add(1)
	go r.fromClients()
	t.Cleanup(r.close)
	return r
}

// DropReplyAfter loses the first reply the BMC sends once happened reports true (asked as each
// reply passes), e.g. once the simulator's chassis powered off: ipmi_sim runs the chassis
// before it answers, so that is the reply to the command that did it. With thenSilence,
// every datagram after it is lost too, as if the BMC had stopped answering.
func (r *IPMIRelay) DropReplyAfter(happened func() bool, thenSilence bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dropWhen, r.silenceAfter = happened, thenSilence
}

// Silence loses every datagram from now on: a BMC that never answers.
func (r *IPMIRelay) Silence() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.silent = true
}

// Received is the number of datagrams clients sent, lost ones included. It first sends the
// relay a datagram of its own and waits until the relay has read it, so that every datagram
// sent before the call is counted.
func (r *IPMIRelay) Received(t testing.TB) int {
	t.Helper()
	c, err := net.DialUDP("udp4", nil, r.ln.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(syncMark)); err != nil {
		t.Fatal(err)
	}
	<-r.synced
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.in
}

const syncMark = "bmctest relay: sync"

func (r *IPMIRelay) close() {
	_ = r.ln.Close()
	r.mu.Lock()
	for _, up := range r.ups {
		_ = up.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

func (r *IPMIRelay) fromClients() {
	defer r.wg.Done()
	buf := make([]byte, 4096)
	for {
		n, client, err := r.ln.ReadFromUDP(buf)
		if err != nil {
			return // closed
		}
		if string(buf[:n]) == syncMark {
			r.synced <- struct{}{}
			continue
		}
		pkt := slices.Clone(buf[:n])
		r.mu.Lock()
		r.in++
		if r.silent {
			r.mu.Unlock()
			continue
		}
		up, err := r.upstream(client)
		r.mu.Unlock()
		if err == nil {
			_, _ = up.Write(pkt)
		}
	}
}

// upstream is client's socket towards the BMC, opened on its first datagram. r.mu is held.
func (r *IPMIRelay) upstream(client *net.UDPAddr) (*net.UDPConn, error) {
	if up, ok := r.ups[client.String()]; ok {
		return up, nil
	}
	up, err := net.DialUDP("udp4", nil, r.bmc)
	if err != nil {
		return nil, err
	}
	r.ups[client.String()] = up
	r.wg.Add(1)
	go r.fromBMC(up, client)
	return up, nil
}

func (r *IPMIRelay) fromBMC(up *net.UDPConn, client *net.UDPAddr) {
	defer r.wg.Done()
	buf := make([]byte, 4096)
	for {
		n, err := up.Read(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue // e.g. ICMP port unreachable after an earlier datagram
		}
		r.mu.Lock()
		drop := r.silent
		if !drop && r.dropWhen != nil && r.dropWhen() {
			drop, r.dropWhen = true, nil
			r.silent = r.silenceAfter
		}
		r.mu.Unlock()
		if !drop {
			_, _ = r.ln.WriteToUDP(buf[:n], client)
		}
	}
}
