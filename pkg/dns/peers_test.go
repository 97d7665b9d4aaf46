package dns

// Tests against real peers (see TESTING.md): dig and kdig as clients,
// dnsmasq as the upstream resolver, on loopback and from client network
// namespaces. They skip with a reason when a binary or root is missing.

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/freeport"
)

func requireBinaries(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("%s not installed (scripts/install-test-deps.sh installs it): %v", n, err)
		}
	}
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
}

// freePort returns a loopback port free for UDP and TCP right now.
func freePort(t *testing.T) uint16 {
	t.Helper()
	port, err := freeport.Port()
	if err != nil {
		t.Fatal(err)
	}
	return uint16(port)
}

// run runs a command (prefixed by wrap, e.g. ip netns exec NS) and returns
// its combined output.
func run(t *testing.T, wrap []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	argv := append(append(append([]string{}, wrap...), name), args...)
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return string(out)
}

// upstreamDnsmasq runs dnsmasq as the upstream on 127.0.0.1:port (inside
// netns when wrap says so), logging queries to a file. It answers
// www.example.test and *.upstream.test with TTL 300 and nothing else.
type upstreamDnsmasq struct {
	cmd *exec.Cmd
	log string
}

func startDnsmasq(t *testing.T, wrap []string, port uint16) *upstreamDnsmasq {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil { // dnsmasq drops privileges before logging
		t.Fatal(err)
	}
	d := &upstreamDnsmasq{log: filepath.Join(dir, "dnsmasq.log")}
	argv := append(append([]string{}, wrap...), "dnsmasq", "--no-daemon", "--conf-file=/dev/null",
		"--no-resolv", "--no-hosts", "--no-poll", "--listen-address=127.0.0.1", "--bind-interfaces",
		fmt.Sprintf("--port=%d", port), "--local-ttl=300", "--cache-size=0", "--log-queries",
		"--log-facility="+d.log, "--pid-file=",
		"--host-record=www.example.test,192.0.2.10", "--address=/upstream.test/192.0.2.11")
	d.cmd = exec.Command(argv[0], argv[1:]...)
	out, err := os.Create(filepath.Join(dir, "dnsmasq.out"))
	if err != nil {
		t.Fatal(err)
	}
	d.cmd.Stdout, d.cmd.Stderr = out, out
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start dnsmasq: %v", err)
	}
	t.Cleanup(d.stop)
	// Ready when it answers; bounded polling, not a timing assertion.
	for i := 0; ; i++ {
		o := run(t, wrap, "dig", "@127.0.0.1", "-p", fmt.Sprint(port), "ready.upstream.test", "+tries=1", "+time=1")
		if strings.Contains(o, "192.0.2.11") {
			break
		}
		if i == 50 {
			b, _ := os.ReadFile(out.Name())
			t.Fatalf("dnsmasq did not come up: %s", b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return d
}

func (d *upstreamDnsmasq) stop() {
	if d.cmd.ProcessState == nil {
		_ = d.cmd.Process.Kill()
		_ = d.cmd.Wait()
	}
}

// queries counts the queries for name that dnsmasq logged.
func (d *upstreamDnsmasq) queries(t *testing.T, name string) int {
	t.Helper()
	b, err := os.ReadFile(d.log)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "] "+name+" from ")
}

// client runs dig or kdig against the server, maybe inside a namespace.
type client struct {
	wrap []string
	addr netip.AddrPort
}

var statusRE = regexp.MustCompile(`status: ([A-Z]+)`)
var flagsRE = regexp.MustCompile(`(?i);; flags: ([a-z ]*)`)

// ask returns rcode, header flags and the full output of tool asking name.
func (c client) ask(t *testing.T, tool, name, qtype string, opts ...string) (rcode, flags, out string) {
	t.Helper()
	args := []string{"@" + c.addr.Addr().String(), "-p", fmt.Sprint(c.addr.Port()), name, qtype}
	if tool == "dig" {
		args = append(args, "+tries=1", "+time=5")
	} else {
		args = append(args, "+retry=0", "+timeout=5")
	}
	out = run(t, c.wrap, tool, append(args, opts...)...)
	m := statusRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("%s %s: no status in output:\n%s", tool, name, out)
	}
	if f := flagsRE.FindStringSubmatch(out); f != nil {
		flags = f[1]
	}
	return m[1], flags, out
}

// labChecks asks the lab names every test environment must answer.
func labChecks(t *testing.T, c client) {
	const z = "mycluster.contrail.lan"
	for _, tool := range []string{"dig", "kdig"} {
		for _, tt := range []struct {
			name, qname, qtype string
			opts               []string
			rcode              string
			want               []string // substrings of the output
		}{
			{"api", "api." + z, "A", nil, "NOERROR", []string{"172.16.0.100"}},
			{"api-int", "api-int." + z, "A", nil, "NOERROR", []string{"172.16.0.100"}},
			{"console via wildcard", "console-openshift-console.apps." + z, "A", nil, "NOERROR", []string{"172.16.0.101"}},
			{"wildcard probe", "validateNoWildcardDNS." + z, "A", nil, "NXDOMAIN", []string{"SOA"}},
			{"PTR master-0 ctrl", "11.0.16.172.in-addr.arpa", "PTR", nil, "NOERROR", []string{"master-0." + z + "."}},
			{"PTR master-0 data", "11.0.16.10.in-addr.arpa", "PTR", nil, "NOERROR", []string{"master-0.data." + z + "."}},
			{"TCP", "master-1." + z, "A", []string{"+tcp"}, "NOERROR", []string{"172.16.0.12", "TCP"}},
			{"EDNS", "worker-0." + z, "A", []string{"+bufsize=1232"}, "NOERROR", []string{"172.16.0.14", "1232"}},
		} {
			t.Run(tool+"/"+tt.name, func(t *testing.T) {
				rcode, flags, out := c.ask(t, tool, tt.qname, tt.qtype, tt.opts...)
				if rcode != tt.rcode {
					t.Errorf("status %s, want %s\n%s", rcode, tt.rcode, out)
				}
				if !strings.Contains(" "+flags+" ", " aa ") {
					t.Errorf("AA not set (flags %q)\n%s", flags, out)
				}
				for _, w := range tt.want {
					if !strings.Contains(strings.ToUpper(out), strings.ToUpper(w)) {
						t.Errorf("output lacks %q:\n%s", w, out)
					}
				}
			})
		}
	}
}

// forwardChecks: a forwarded answer, then the cached one (dnsmasq not asked
// again), then SERVFAIL once the upstream is down.
func forwardChecks(t *testing.T, c client, up *upstreamDnsmasq) {
	rcode, flags, out := c.ask(t, "dig", "www.example.test", "A")
	if rcode != "NOERROR" || !strings.Contains(out, "192.0.2.10") || !strings.Contains(" "+flags+" ", " ra ") {
		t.Fatalf("forwarded answer: status %s flags %q\n%s", rcode, flags, out)
	}
	if n := up.queries(t, "www.example.test"); n != 1 {
		t.Fatalf("dnsmasq saw %d queries, want 1", n)
	}
	rcode, _, out = c.ask(t, "kdig", "www.example.test", "A")
	if rcode != "NOERROR" || !strings.Contains(out, "192.0.2.10") {
		t.Fatalf("cached answer: status %s\n%s", rcode, out)
	}
	if n := up.queries(t, "www.example.test"); n != 1 {
		t.Errorf("dnsmasq saw %d queries after the cached answer, want still 1", n)
	}
	up.stop()
	if rcode, _, out = c.ask(t, "dig", "gone.upstream.test", "A"); rcode != "SERVFAIL" {
		t.Errorf("upstream down: status %s, want SERVFAIL\n%s", rcode, out)
	}
}

// TestPeersLoopback: dig and kdig against the server on 127.0.0.1, with
// dnsmasq as the second upstream after a dead one (failover).
func TestPeersLoopback(t *testing.T) {
	requireBinaries(t, "dig", "kdig", "dnsmasq")
	up := startDnsmasq(t, nil, freePort(t))
	cfg := labConfig()
	dead := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), freePort(t))
	cfg.Forwarders = []netip.AddrPort{dead, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), portOf(up))}
	_, addr := startServer(t, cfg)
	c := client{addr: addr}
	labChecks(t, c)
	forwardChecks(t, c, up)
}

func portOf(d *upstreamDnsmasq) uint16 {
	for _, a := range d.cmd.Args {
		if p, ok := strings.CutPrefix(a, "--port="); ok {
			var n uint16
			fmt.Sscan(p, &n)
			return n
		}
	}
	return 0
}

// topology: a server namespace with the appliance on 172.16.0.1 (lab) and
// 192.0.2.1 (not a lab network), a lab client at 172.16.0.20 and an outside
// client at 192.0.2.20, each on its own veth pair.
type topology struct{ srv, lab, outside string }

func setupTopology(t *testing.T) topology {
	t.Helper()
	p := fmt.Sprintf("cn2dns-%d", os.Getpid())
	top := topology{srv: p + "-srv", lab: p + "-lab", outside: p + "-out"}
	ns := []string{top.srv, top.lab, top.outside}
	t.Cleanup(func() {
		for _, n := range ns {
			_ = exec.Command("ip", "netns", "del", n).Run()
		}
	})
	for _, n := range ns {
		run(t, nil, "ip", "netns", "add", n)
		run(t, nil, "ip", "-n", n, "link", "set", "lo", "up")
	}
	for _, l := range []struct{ cns, srvIf, srvAddr, cAddr string }{
		{top.lab, "lab0", "172.16.0.1/24", "172.16.0.20/24"},
		{top.outside, "out0", "192.0.2.1/24", "192.0.2.20/24"},
	} {
		run(t, nil, "ip", "link", "add", l.srvIf, "netns", top.srv, "type", "veth", "peer", "name", "eth0", "netns", l.cns)
		run(t, nil, "ip", "-n", top.srv, "addr", "add", l.srvAddr, "dev", l.srvIf)
		run(t, nil, "ip", "-n", top.srv, "link", "set", l.srvIf, "up")
		run(t, nil, "ip", "-n", l.cns, "addr", "add", l.cAddr, "dev", "eth0", "nodad")
		run(t, nil, "ip", "-n", l.cns, "link", "set", "eth0", "up")
	}
	return top
}

// TestPeersNetns runs the server as a child process inside the server
// namespace on port 53 of 172.16.0.1, 192.0.2.1 and 127.0.0.1, with dnsmasq
// in the same namespace as upstream, and queries it from the clients.
func TestPeersNetns(t *testing.T) {
	requireRoot(t)
	requireBinaries(t, "ip", "dig", "kdig", "dnsmasq")
	top := setupTopology(t)
	inSrv := []string{"ip", "netns", "exec", top.srv}
	up := startDnsmasq(t, inSrv, 5354)
	startHelperServer(t, inSrv, "172.16.0.1:53,192.0.2.1:53,127.0.0.1:53", "127.0.0.1:5354")

	lab := client{wrap: []string{"ip", "netns", "exec", top.lab}, addr: netip.MustParseAddrPort("172.16.0.1:53")}
	outside := client{wrap: []string{"ip", "netns", "exec", top.outside}, addr: netip.MustParseAddrPort("192.0.2.1:53")}
	labChecks(t, lab)
	t.Run("outside client refused recursion", func(t *testing.T) {
		for _, tool := range []string{"dig", "kdig"} {
			if rcode, flags, out := outside.ask(t, tool, "www.example.test", "A"); rcode != "REFUSED" || strings.Contains(" "+flags+" ", " ra ") {
				t.Errorf("%s: status %s flags %q, want REFUSED without RA\n%s", tool, rcode, flags, out)
			}
			if rcode, flags, out := outside.ask(t, tool, "api.mycluster.contrail.lan", "A"); rcode != "NOERROR" || !strings.Contains(out, "172.16.0.100") || strings.Contains(" "+flags+" ", " ra ") {
				t.Errorf("%s: lab name for an outside client: status %s flags %q, want NOERROR without RA\n%s", tool, rcode, flags, out)
			}
		}
		if n := up.queries(t, "www.example.test"); n != 0 {
			t.Errorf("refused query reached the upstream (%d)", n)
		}
	})
	forwardChecks(t, lab, up)
}

// startHelperServer starts this test binary as the DNS server (see
// TestHelperServer) under wrap and waits until it listens.
func startHelperServer(t *testing.T, wrap []string, listen, forwarders string) {
	t.Helper()
	argv := append(append([]string{}, wrap...), os.Args[0], "-test.run=^TestHelperServer$", "-test.v")
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "CN2DNS_HELPER=1", "CN2DNS_LISTEN="+listen, "CN2DNS_FORWARDERS="+forwarders)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start helper server: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if sc.Text() == "READY" {
			go func() { // drain the rest; ends when the helper exits
				for sc.Scan() {
				}
			}()
			return
		}
	}
	t.Fatal("helper server exited before it was ready")
}

// TestHelperServer is not a test: it is the server process that
// TestPeersNetns starts inside a namespace.
func TestHelperServer(t *testing.T) {
	if os.Getenv("CN2DNS_HELPER") != "1" {
		t.Skip("helper process for TestPeersNetns")
	}
	cfg := labConfig()
	for _, a := range strings.Split(os.Getenv("CN2DNS_LISTEN"), ",") {
		cfg.Listen = append(cfg.Listen, netip.MustParseAddrPort(a))
	}
	for _, a := range strings.Split(os.Getenv("CN2DNS_FORWARDERS"), ",") {
		cfg.Forwarders = append(cfg.Forwarders, netip.MustParseAddrPort(a))
	}
	s, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := signalContext()
	defer stop()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case <-s.Ready():
		fmt.Println("READY")
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}
