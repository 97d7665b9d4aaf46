package ntp

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/netnstest"
)

// The namespace tests put the server in one network namespace and real NTP clients, chronyd
// in query-only mode (-Q: it never sets the clock) and sntp (ntpsec's ntpdig, never with -s
// or -S), in another, joined by a veth pair:
//
//	<prefix>srv  eth0 172.16.0.1/24  <-veth->  <prefix>cli  eth0 172.16.0.2/24
//
// The server is the test process itself: Run binds its sockets from a goroutine whose OS
// thread entered the server namespace. Every client process is ended by its PID, and the
// namespaces are deleted at the end.

const (
	srvAddr = "172.16.0.1"
	cliAddr = "172.16.0.2"
)

type namespaces struct{ srv, cli string }

var nsSeq int

func upNamespaces(t *testing.T, bins ...string) *namespaces {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("namespace test skipped: needs root (network namespaces)")
	}
	for _, b := range append([]string{"ip"}, bins...) {
		if _, err := exec.LookPath(b); err != nil {
			t.Skipf("namespace test skipped: %s is not installed (scripts/install-test-deps.sh)", b)
		}
	}
	nsSeq++
	prefix := fmt.Sprintf("cn2ntp%d-%d-", os.Getpid(), nsSeq)
	ns := &namespaces{srv: prefix + "srv", cli: prefix + "cli"}
	t.Cleanup(func() { ns.down(t) })
	for _, args := range [][]string{
		{"netns", "add", ns.srv},
		{"netns", "add", ns.cli},
		{"link", "add", "eth0", "netns", ns.srv, "type", "veth", "peer", "name", "eth0", "netns", ns.cli},
		{"-n", ns.srv, "addr", "add", srvAddr + "/24", "dev", "eth0"},
		{"-n", ns.cli, "addr", "add", cliAddr + "/24", "dev", "eth0"},
		{"-n", ns.srv, "link", "set", "eth0", "up"},
		{"-n", ns.cli, "link", "set", "eth0", "up"},
		{"-n", ns.srv, "link", "set", "lo", "up"},
		{"-n", ns.cli, "link", "set", "lo", "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	return ns
}

// down kills what is left in the namespaces, by PID, and deletes them.
func (ns *namespaces) down(t *testing.T) {
	for _, n := range []string{ns.cli, ns.srv} {
		out, err := exec.Command("ip", "netns", "pids", n).Output()
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if out, err := exec.Command("ip", "netns", "del", n).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", n, err, out)
		}
	}
}

// inNetns runs a function in namespace name (netnstest.InNetns), for runServer.
func inNetns(name string) func(func() error) error {
	return func(f func() error) error { return netnstest.InNetns(name, f) }
}

// A client's verdict on the server: whether it accepted it, at which stratum (0 where the
// client does not say), and what the client printed.
type verdict struct {
	accepted bool
	stratum  int
	out      string
}

// chronydQuery: chronyd -Q takes measurements from the server and exits 0 once it has a
// source it would synchronise to ("System clock wrong by ... (ignored)"), or non-zero when it
// finds none. It reads no configuration of the host's (the directives are on the command
// line), opens no server or command port, and keeps its pid file in a temporary folder.
func chronydQuery(t *testing.T, ns *namespaces) verdict {
	dir := t.TempDir()
	out, err := exec.Command("ip", "netns", "exec", ns.cli, "chronyd", "-Q", "-t", "20", "-u", "root",
		"pidfile "+filepath.Join(dir, "chronyd.pid"),
		"server "+srvAddr+" iburst minpoll -4 maxpoll -4",
		"cmdport 0", "port 0").CombinedOutput()
	v := verdict{out: string(out)}
	switch {
	case err == nil && strings.Contains(v.out, "System clock wrong by"):
		v.accepted = true
	case err == nil:
		t.Errorf("chronyd exited 0 without a measurement")
	}
	return v
}

// sntpQuery: sntp (ntpsec's ntpdig; never with -s or -S, which set the clock) prints the
// server's offset, stratum and leap state as JSON, and exits 0, when it accepts the answer.
func sntpQuery(t *testing.T, ns *namespaces) verdict {
	out, err := exec.Command("ip", "netns", "exec", ns.cli, "sntp", "-j", "-t", "5", srvAddr).Output()
	v := verdict{out: string(out)}
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			v.out += string(ee.Stderr)
		}
		return v
	}
	var res struct {
		Stratum int    `json:"stratum"`
		Leap    string `json:"leap"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Errorf("sntp printed no JSON result: %v", err)
		return v
	}
	v.accepted, v.stratum = res.Leap == "no-leap", res.Stratum
	return v
}

// TestClientsInNamespaces: chronyd and sntp accept the server while the host is synchronised,
// reject it (stratum 16, leap alarm) while it is not, and accept it again at the lab's local
// stratum. The sync state is injected; a last round uses the host's own, as adjtimex reads it.
func TestClientsInNamespaces(t *testing.T) {
	ns := upNamespaces(t, "chronyd", "sntp")
	clock := &fakeClock{}
	listen := []netip.AddrPort{netip.MustParseAddrPort(srvAddr + ":123")}
	s := runServer(t, Config{Listen: listen}, clock, nil, inNetns(ns.srv))
	host, hostErr := HostClock{}.SyncState()
	t.Logf("this host's clock: %+v (err %v)", host, hostErr)
	clients := []struct {
		name  string
		query func(*testing.T, *namespaces) verdict
	}{{"chronyd", chronydQuery}, {"sntp", sntpQuery}}
	for _, tc := range []struct {
		name    string
		st      SyncState
		err     error
		local   int
		stratum int // 0: rejected
	}{
		{"synchronised host", syncedState, nil, 0, SyncedStratum},
		{"unsynchronised host", SyncState{MaxError: 16 * time.Second}, nil, 0, 0},
		{"unsynchronised host, local stratum 10", SyncState{MaxError: 16 * time.Second}, nil, 10, 10},
		{"this host as it is", host, hostErr, 0, map[bool]int{true: SyncedStratum}[hostErr == nil && host.Synchronised]},
	} {
		clock.set(tc.st, tc.err)
		if err := s.Reload(Config{Listen: listen, LocalStratum: tc.local}); err != nil {
			t.Fatal(err)
		}
		for _, c := range clients {
			t.Run(tc.name+"/"+c.name, func(t *testing.T) {
				before := value(t, s.metrics.requests(resultAnswered))
				v := c.query(t, ns)
				if value(t, s.metrics.requests(resultAnswered)) == before {
					t.Fatalf("the server answered no request of %s:\n%s", c.name, v.out)
				}
				if v.accepted != (tc.stratum > 0) || (v.stratum != 0 && v.stratum != tc.stratum) {
					t.Errorf("%s: accepted %v at stratum %d, want accepted %v at stratum %d; it said:\n%s",
						c.name, v.accepted, v.stratum, tc.stratum > 0, tc.stratum, v.out)
				}
			})
		}
	}
}
