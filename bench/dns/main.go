// Command dns benchmarks cn2-appliance's DNS server against dnsmasq serving
// the same lab records: both on loopback, dnsperf against each in turn with
// the same query file, then both qps figures and the ratio.
//
//	go run ./bench/dns [-l 10] [-c 4] [-T 2] [-q 200] [-rounds 3] [-latency-l 3]
//
// A third server is the limit: a miekg/dns handler writing one fixed answer, on its own
// socket. A warm-up run precedes the rounds, the servers' order rotates between rounds, and
// the p50/p99 latencies come from a dnsperf -v run per server.
//
// Needs dnsperf and dnsmasq (scripts/install-test-deps.sh). All traffic
// stays on 127.0.0.1; every process it starts is ended by its PID.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cn2-appliance/cn2-appliance/bench/internal/benchenv"
	cn2dns "github.com/cn2-appliance/cn2-appliance/pkg/dns"
	mdns "github.com/miekg/dns"
)

const zone = "mycluster.contrail.lan"

var (
	profile *os.File // -cpuprofile
	sockets int      // -sockets
	rounds  int      // -rounds
	// latencySeconds is -latency-l.
	latencySeconds int
)

func main() {
	duration := flag.Int("l", 10, "dnsperf run time per server, seconds")
	clients := flag.Int("c", 4, "dnsperf clients (sockets)")
	threads := flag.Int("T", 2, "dnsperf threads")
	outstanding := flag.Int("q", 200, "dnsperf maximum outstanding queries")
	flag.IntVar(&rounds, "rounds", 3, "rounds per server; the servers' order rotates between rounds")
	flag.IntVar(&latencySeconds, "latency-l", 3, "seconds of the dnsperf -v run per server the latency percentiles come from")
	flag.IntVar(&sockets, "sockets", 0, "cn2-appliance UDP sockets (0: one per CPU)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of cn2-appliance's run to this file")
	flag.Parse()
	rounds = max(rounds, 1)
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench/dns:", err)
			os.Exit(1)
		}
		profile = f
	}
	if err := run(*duration, *clients, *threads, *outstanding); err != nil {
		fmt.Fprintln(os.Stderr, "bench/dns:", err)
		os.Exit(1)
	}
}

func run(duration, clients, threads, outstanding int) error {
	for _, bin := range []string{"dnsperf", "dnsmasq"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s not installed (run scripts/install-test-deps.sh as root): %w", bin, err)
		}
	}
	dir, err := os.MkdirTemp("", "cn2dns-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	queries := filepath.Join(dir, "queries.txt")
	n, err := writeQueries(queries)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := cn2dns.New(labConfig(), nil, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	runErr := make(chan error, 1)
	go func() { runErr <- srv.Run(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-runErr:
		return err
	}
	defer func() { cancel(); <-runErr }()
	ours := srv.Addrs()[0]

	dnsmasqPort, err := freePort()
	if err != nil {
		return err
	}
	stop, err := startDnsmasq(dir, dnsmasqPort)
	if err != nil {
		return err
	}
	defer stop()
	theirs := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), dnsmasqPort)

	// Both must give the same answers before their speed means anything.
	if err := sameAnswers(queries, ours, theirs); err != nil {
		return err
	}

	limit, stopLimit, err := startLimit()
	if err != nil {
		return err
	}
	defer stopLimit()

	fmt.Printf("query file: %d lab names (wildcard, api, nodes, PTR, one NXDOMAIN); dnsperf -l %d -c %d -T %d -q %d; load %s\n",
		n, duration, clients, threads, outstanding, benchenv.LoadAvg())
	args := func(a netip.AddrPort, seconds int) []string {
		return []string{"-s", a.Addr().String(), "-p", strconv.Itoa(int(a.Port())), "-d", queries,
			"-l", strconv.Itoa(seconds), "-c", strconv.Itoa(clients), "-T", strconv.Itoa(threads), "-q", strconv.Itoa(outstanding)}
	}
	servers := []struct {
		name string
		addr netip.AddrPort
	}{{"dnsmasq", theirs}, {"cn2-appliance", ours}, {"limit", limit}}
	// Warm-up: one short run each, not counted.
	for _, s := range servers {
		if _, _, err := dnsperf(args(s.addr, 1)); err != nil {
			return fmt.Errorf("warm-up against %s: %w", s.name, err)
		}
	}
	// Rounds rotate the servers' order so that load from elsewhere on a shared machine hits
	// them alike.
	sum := map[string]float64{}
	for r := 1; r <= rounds; r++ {
		for k := range servers {
			s := servers[(k+r-1)%len(servers)]
			profiling := s.name == "cn2-appliance" && profile != nil
			if profiling {
				if err := pprof.StartCPUProfile(profile); err != nil {
					return err
				}
			}
			q, lost, err := dnsperf(args(s.addr, duration))
			if profiling {
				pprof.StopCPUProfile()
				profile.Close()
				profile = nil
			}
			if err != nil {
				return fmt.Errorf("dnsperf against %s: %w", s.name, err)
			}
			fmt.Printf("round %d  %-14s %10.0f qps  (lost %s)\n", r, s.name, q, lost)
			sum[s.name] += q
		}
	}
	// Latency: dnsperf -v reports each answer's latency; one shorter run per server (printing
	// every answer costs dnsperf, so these runs are not the qps figures).
	lat := map[string][2]time.Duration{}
	for _, s := range servers {
		p50, p99, lost, err := latency(args(s.addr, latencySeconds))
		if err != nil {
			return fmt.Errorf("dnsperf -v against %s: %w", s.name, err)
		}
		lat[s.name] = [2]time.Duration{p50, p99}
		fmt.Printf("latency  %-14s p50 %8s  p99 %8s  (dnsperf -v -l %d, lost %d)\n", s.name, p50, p99, latencySeconds, lost)
	}
	mean := func(name string) float64 { return sum[name] / float64(rounds) }
	for _, s := range servers {
		fmt.Printf("%-14s %10.0f qps (mean of %d)  p50 %s p99 %s\n", s.name, mean(s.name), rounds, lat[s.name][0], lat[s.name][1])
	}
	fmt.Printf("ratio cn2-appliance/dnsmasq: %.2fx, cn2-appliance/limit: %.2fx\n", mean("cn2-appliance")/mean("dnsmasq"), mean("cn2-appliance")/mean("limit"))
	fmt.Printf("BENCH dns peer=%.0f appliance=%.0f limit=%.0f unit=qps\n", mean("dnsmasq"), mean("cn2-appliance"), mean("limit"))
	us := func(name string, i int) float64 { return float64(lat[name][i]) / 1e3 }
	fmt.Printf("BENCH dns-p99 peer=%.0f appliance=%.0f limit=%.0f unit=us lower=better\n", us("dnsmasq", 1), us("cn2-appliance", 1), us("limit", 1))
	return nil
}

// labConfig is the example lab as the appliance would build it.
func labConfig() cn2dns.Config {
	a := func(name, addr string) cn2dns.Record {
		return cn2dns.Record{Name: name + "." + zone + ".", Type: cn2dns.TypeA, Value: addr}
	}
	ptr := func(addr, target string) cn2dns.Record {
		rev, _ := mdns.ReverseAddr(addr)
		return cn2dns.Record{Name: rev, Type: cn2dns.TypePTR, Value: target + "."}
	}
	cluster := cn2dns.Zone{Origin: zone + ".", NS: "ns." + zone + "."}
	ctrl := cn2dns.Zone{Origin: "0.16.172.in-addr.arpa.", NS: "ns." + zone + "."}
	data := cn2dns.Zone{Origin: "0.16.10.in-addr.arpa.", NS: "ns." + zone + "."}
	for _, h := range labHosts() {
		cluster.Records = append(cluster.Records, a(h.name, h.addr))
		if h.name == "api-int" {
			continue // 172.16.0.100 has one PTR: api
		}
		rev := &ctrl
		if strings.HasPrefix(h.addr, "10.") {
			rev = &data
		}
		rev.Records = append(rev.Records, ptr(h.addr, h.name+"."+zone))
	}
	cluster.Records = append(cluster.Records, a("*.apps", "172.16.0.101"))
	return cn2dns.Config{
		Listen:        []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")},
		Zones:         []cn2dns.Zone{cluster, ctrl, data},
		RecursionFrom: []netip.Prefix{netip.MustParsePrefix("172.16.0.0/24"), netip.MustParsePrefix("10.16.0.0/24")},
		TTL:           60,
		UDPSockets:    sockets,
	}
}

type host struct{ name, addr string }

func labHosts() []host {
	hs := []host{{"api", "172.16.0.100"}, {"api-int", "172.16.0.100"}, {"ingress", "172.16.0.101"}, {"ns", "172.16.0.1"}}
	for i, n := range []string{"master-0", "master-1", "master-2", "worker-0", "worker-1"} {
		hs = append(hs, host{n, fmt.Sprintf("172.16.0.%d", 11+i)}, host{n + ".data", fmt.Sprintf("10.16.0.%d", 11+i)})
	}
	return hs
}

// writeQueries writes the dnsperf query file: what a lab's clients ask.
func writeQueries(path string) (int, error) {
	var lines []string
	for _, app := range []string{"console-openshift-console", "oauth-openshift", "downloads-openshift-console",
		"canary-openshift-ingress-canary", "prometheus-k8s-openshift-monitoring", "grafana-openshift-monitoring",
		"alertmanager-main-openshift-monitoring", "thanos-querier-openshift-monitoring", "default-route-openshift-image-registry",
		"contrail-web"} {
		lines = append(lines, app+".apps."+zone+" A")
	}
	for _, h := range labHosts() {
		lines = append(lines, h.name+"."+zone+" A")
		rev, _ := mdns.ReverseAddr(h.addr)
		if h.name != "api-int" && h.name != "ingress" { // one PTR per address
			lines = append(lines, strings.TrimSuffix(rev, ".")+" PTR")
		}
	}
	lines = append(lines, "validateNoWildcardDNS."+zone+" A")
	return len(lines), os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

// startDnsmasq serves the same records (TESTING.md's reference flags).
func startDnsmasq(dir string, port uint16) (stop func(), err error) {
	args := []string{"--no-daemon", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--no-poll",
		"--listen-address=127.0.0.1", "--bind-interfaces", fmt.Sprintf("--port=%d", port), "--local-ttl=60",
		"--pid-file=", "--log-facility=" + filepath.Join(dir, "dnsmasq.log"),
		"--local=/" + zone + "/", "--address=/apps." + zone + "/172.16.0.101"}
	for _, h := range labHosts() {
		if h.name == "api-int" || h.name == "ingress" {
			// dnsmasq makes the PTR of the first host-record for an address; list the A only.
			args = append(args, "--address=/"+h.name+"."+zone+"/"+h.addr)
			continue
		}
		args = append(args, "--host-record="+h.name+"."+zone+","+h.addr)
	}
	cmd := exec.Command("dnsmasq", args...)
	logf, err := os.Create(filepath.Join(dir, "dnsmasq.out"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start dnsmasq: %w", err)
	}
	stop = func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
	for i := 0; ; i++ {
		m := new(mdns.Msg)
		m.SetQuestion("api."+zone+".", mdns.TypeA)
		if _, _, err := (&mdns.Client{Timeout: time.Second}).Exchange(m, addr.String()); err == nil {
			return stop, nil
		}
		if i == 50 {
			stop()
			return nil, fmt.Errorf("dnsmasq did not answer on %s", addr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sameAnswers checks that both servers give the same rcode and rdata for
// every query in the file.
func sameAnswers(queries string, a, b netip.AddrPort) error {
	raw, err := os.ReadFile(queries)
	if err != nil {
		return err
	}
	c := &mdns.Client{Timeout: 2 * time.Second}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		f := strings.Fields(line)
		var got [2]string
		for i, addr := range []netip.AddrPort{a, b} {
			m := new(mdns.Msg)
			m.SetQuestion(mdns.Fqdn(f[0]), mdns.StringToType[f[1]])
			r, _, err := c.Exchange(m, addr.String())
			if err != nil {
				return fmt.Errorf("check %s against %s: %w", line, addr, err)
			}
			got[i] = mdns.RcodeToString[r.Rcode]
			for _, rr := range r.Answer {
				got[i] += " " + strings.ToLower(strings.Join(strings.Fields(rr.String())[4:], " "))
			}
		}
		if got[0] != got[1] {
			return fmt.Errorf("%s: cn2-appliance says %q, dnsmasq %q", line, got[0], got[1])
		}
	}
	return nil
}

var (
	qpsRE  = regexp.MustCompile(`Queries per second:\s+([0-9.]+)`)
	lostRE = regexp.MustCompile(`Queries lost:\s+(\S+ \(\S+\))`)
)

func dnsperf(args []string) (qps float64, lost string, err error) {
	out, err := exec.Command("dnsperf", args...).CombinedOutput()
	if err != nil {
		return 0, "", fmt.Errorf("%w\n%s", err, out)
	}
	m := qpsRE.FindSubmatch(out)
	if m == nil {
		return 0, "", fmt.Errorf("no qps in dnsperf output:\n%s", out)
	}
	qps, err = strconv.ParseFloat(string(m[1]), 64)
	if l := lostRE.FindSubmatch(out); l != nil {
		lost = string(l[1])
	}
	return qps, lost, err
}

// latency runs dnsperf -v and returns the median and 99th percentile of the answers' latency
// and the queries that timed out.
func latency(args []string) (p50, p99 time.Duration, lost int, err error) {
	cmd := exec.Command("dnsperf", append(args, "-v")...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, 0, 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, 0, 0, err
	}
	var lats []time.Duration
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 || f[0] != ">" {
			continue
		}
		if f[1] == "T" {
			lost++
			continue
		}
		if sec, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			lats = append(lats, time.Duration(sec*1e9))
		}
	}
	if err := cmd.Wait(); err != nil {
		return 0, 0, 0, err
	}
	if len(lats) == 0 {
		return 0, 0, lost, errors.New("no answers")
	}
	slices.Sort(lats)
	at := func(q float64) time.Duration {
		return lats[min(len(lats)-1, int(q*float64(len(lats))))].Round(time.Microsecond)
	}
	return at(0.50), at(0.99), lost, nil
}

// startLimit serves the limit row: a miekg/dns handler that writes one fixed answer (the
// question echoed with an A record), on a loopback socket of its own.
func startLimit() (netip.AddrPort, func(), error) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return netip.AddrPort{}, nil, err
	}
	rr, _ := mdns.NewRR("x. 60 IN A 172.16.0.101")
	srv := &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(func(w mdns.ResponseWriter, q *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(q)
		m.Authoritative = true
		if len(q.Question) == 1 {
			a := *rr.(*mdns.A)
			a.Hdr.Name = q.Question[0].Name
			m.Answer = []mdns.RR{&a}
		}
		_ = w.WriteMsg(m)
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	return pc.LocalAddr().(*net.UDPAddr).AddrPort(), func() { _ = srv.Shutdown() }, nil
}

func freePort() (uint16, error) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer pc.Close()
	return uint16(pc.LocalAddr().(*net.UDPAddr).Port), nil
}
