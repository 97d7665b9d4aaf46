// Command dhcp-bench compares cn2-appliance's DHCP server with Kea's
// kea-dhcp4 and with the limit of the library it is built on, under
// perfdhcp, on the same namespace topology, in one run:
//
//	go run ./bench/dhcp       # as root; -rate, -period, -clients, -rounds to change the load
//
// It builds the two-subnet topology (pkg/dhcp/dhcptest), then for each
// server in turn starts it in the server namespace pinned to one core
// (taskset -c -server-cpu) and runs perfdhcp from the client namespace
// pinned to another (-client-cpu; perfdhcp acts as a relay: giaddr
// 172.16.0.10) at the same offered rate for the same period, stops the
// server, and prints the offered and the achieved rate (REQUEST-ACK
// received / period), perfdhcp's REQUEST-ACK delay, its drops, and the UDP
// receive drops (Udp RcvbufErrors / InErrors of /proc/net/snmp) in the
// server and in the client namespace. The servers:
//
//   - appliance: this binary re-executed with -serve: pkg/dhcp with a store
//     in a temp folder, every ACK sent once its lease is durable (lease
//     journal, group fdatasync), replies paced;
//   - kea: kea-dhcp4, memfile lease file (no fsync), WARN logging;
//   - limit: this binary with -limit: an insomniacslk/dhcp server4 handler
//     that writes a fixed reply (an address derived from the MAC, no store)
//     on the same kind of socket: what the library and the kernel allow.
//
// Rounds rotate the servers' order. At the end the leases the appliance and
// Kea stored are audited (no address held by two clients) and one
// machine-readable line is printed:
//
//	BENCH dhcp peer=<kea leases/s> appliance=<leases/s> limit=<leases/s> unit=leases/s
//
// Everything is removed at the end.
package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cn2-appliance/cn2-appliance/bench/internal/benchenv"
	"github.com/cn2-appliance/cn2-appliance/pkg/dhcp"
	"github.com/cn2-appliance/cn2-appliance/pkg/dhcp/dhcptest"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"
	"github.com/prometheus/client_golang/prometheus"
)

func main() {
	serve := flag.String("serve", "", "internal: serve DHCP with this JSON config (used inside the server namespace)")
	limit := flag.Bool("limit", false, "internal: serve the fixed-reply server4 handler (used inside the server namespace)")
	state := flag.String("state", "", "internal: state folder for -serve")
	rate := flag.Int("rate", 30000, "perfdhcp -r: DORA exchanges offered per second")
	period := flag.Int("period", 4, "perfdhcp -p: seconds of load per server and round")
	nclients := flag.Int("clients", 200, "perfdhcp -R: distinct client MACs")
	rounds := flag.Int("rounds", 3, "rounds; the servers' order rotates between rounds and the means are compared")
	serverCPU := flag.String("server-cpu", "0", "taskset -c for the server (empty: not pinned)")
	clientCPU := flag.String("client-cpu", "1", "taskset -c for perfdhcp (empty: not pinned)")
	burst := flag.Int("reply-burst", 0, "appliance: dhcp.Config.ReplyBurst (0: default)")
	every := flag.Duration("reply-interval", 0, "appliance: dhcp.Config.ReplyInterval (0: default)")
	only := flag.String("servers", "appliance,kea,limit", "the servers to run, of appliance, kea, limit")
	flag.Parse()
	switch {
	case *limit:
		if err := serveLimit(); err != nil {
			fmt.Fprintln(os.Stderr, "limit:", err)
			os.Exit(1)
		}
		return
	case *serve != "":
		if err := serveDHCP(*serve, *state); err != nil {
			fmt.Fprintln(os.Stderr, "serve:", err)
			os.Exit(1)
		}
		return
	}
	if err := bench(benchConfig{rate: *rate, period: *period, clients: *nclients, rounds: *rounds, serverCPU: *serverCPU, clientCPU: *clientCPU, servers: *only, burst: *burst, every: *every}); err != nil {
		fmt.Fprintln(os.Stderr, "dhcp-bench:", err)
		os.Exit(1)
	}
}

type benchConfig struct {
	rate, period, clients, rounds int
	serverCPU, clientCPU          string
	servers                       string // comma-separated
	burst                         int
	every                         time.Duration
}

// labConfig is the two lab networks; ctrl has a pool big enough for the
// perfdhcp clients (the same pool Kea gets).
func labConfig() dhcp.Config {
	a := netip.MustParseAddr
	return dhcp.Config{
		LeaseTime: time.Hour,
		Networks: []dhcp.Network{{
			Name: "ctrl", Interface: "srv-a", Subnet: netip.MustParsePrefix("172.16.0.0/24"),
			ServerIP: a("172.16.0.1"), Router: a("172.16.0.1"), Pool: [2]netip.Addr{a("172.16.0.20"), a("172.16.0.250")},
			Domain: "mycluster.contrail.lan", ServeUnknown: true,
		}, {
			Name: "data", Interface: "srv-b", Subnet: netip.MustParsePrefix("10.16.0.0/24"),
			ServerIP: a("10.16.0.1"), Pool: [2]netip.Addr{a("10.16.0.20"), a("10.16.0.250")},
			Domain: "mycluster.contrail.lan", ServeUnknown: true,
		}},
	}
}

const keaConfig = `{
  "Dhcp4": {
    "interfaces-config": { "interfaces": [ "srv-a", "srv-b" ], "dhcp-socket-type": "raw" },
    "lease-database": { "type": "memfile", "persist": true, "name": "%[1]s/kea-leases4.csv", "lfc-interval": 0 },
    "control-socket": { "socket-type": "unix", "socket-name": "%[1]s/kea4-ctrl.sock" },
    "valid-lifetime": 3600, "renew-timer": 1800, "rebind-timer": 3150,
    "authoritative": true,
    "subnet4": [
      { "id": 1, "subnet": "172.16.0.0/24", "interface": "srv-a",
        "pools": [ { "pool": "172.16.0.20 - 172.16.0.250" } ],
        "option-data": [ { "name": "routers", "data": "172.16.0.1" }, { "name": "domain-name-servers", "data": "172.16.0.1" },
                         { "name": "domain-name", "data": "mycluster.contrail.lan" } ] },
      { "id": 2, "subnet": "10.16.0.0/24", "interface": "srv-b",
        "pools": [ { "pool": "10.16.0.20 - 10.16.0.250" } ],
        "option-data": [ { "name": "domain-name-servers", "data": "10.16.0.1" },
                         { "name": "domain-name", "data": "mycluster.contrail.lan" } ] }
    ],
    "loggers": [
      { "name": "kea-dhcp4", "output_options": [ { "output": "stdout" } ], "severity": "WARN" },
      { "name": "kea-dhcp4.dhcp4", "output_options": [ { "output": "stdout" } ], "severity": "INFO" }
    ]
  }
}
`

// pinned prefixes a command with taskset when cpu is set.
func pinned(cpu, name string, args ...string) (string, []string) {
	if cpu == "" {
		return name, args
	}
	return "taskset", append([]string{"-c", cpu, name}, args...)
}

// run is one server's figures in one round.
type run struct {
	acks, offers, discovers, requests, nonUnique int
	ackDelay                                     string // perfdhcp's avg REQUEST-ACK delay
	srvRcvbuf, srvInErr, cliRcvbuf, cliInErr     int64
}

func bench(c benchConfig) error {
	if why := dhcptest.CanRun("perfdhcp", "kea-dhcp4", "taskset"); why != "" {
		return errors.New(why)
	}
	tmp, err := os.MkdirTemp("", "cn2-dhcp-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	tp, err := dhcptest.Up(fmt.Sprintf("dhb%d-", os.Getpid()))
	if err != nil {
		return err
	}
	defer tp.Down()
	// Ctrl-C / SIGTERM: stop, but still clean up (the deferred Down).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := dhcptest.IP("-n", tp.C1, "addr", "add", "172.16.0.10/24", "dev", "eth0"); err != nil {
		return err
	}
	fmt.Printf("perfdhcp -r %d -p %d -R %d (relay 172.16.0.10, cpu %q) against each server (cpu %q); %d rounds, order rotating\n",
		c.rate, c.period, c.clients, c.clientCPU, c.serverCPU, c.rounds)
	fmt.Printf("load before: %s\n", load())

	type server struct {
		name  string
		start func() (*exec.Cmd, error)
	}
	servers := []server{
		{"appliance", func() (*exec.Cmd, error) { return startCN2(tp, tmp, c) }},
		{"kea", func() (*exec.Cmd, error) { return startKea(tp, tmp, c.serverCPU) }},
		{"limit", func() (*exec.Cmd, error) { return startLimit(tp, c.serverCPU) }},
	}
	servers = slices.DeleteFunc(servers, func(s server) bool { return !slices.Contains(strings.Split(c.servers, ","), s.name) })
	if len(servers) == 0 {
		return fmt.Errorf("-servers %q names none of appliance, kea, limit", c.servers)
	}
	results := map[string][]run{}
	fmt.Printf("%-5s %-9s %8s %8s %9s %7s %7s %7s %6s %8s %8s %8s %8s\n", "round", "server", "offered", "leases/s", "ack-delay",
		"DISC", "OFFER", "ACK", "nonuniq", "srv-rbuf", "srv-inerr", "cli-rbuf", "cli-inerr")
	for round := 1; round <= c.rounds; round++ {
		for k := range servers {
			srv := servers[(k+round-1)%len(servers)] // rotate: no server always runs first or last
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r, err := runOne(tp, c, srv.start)
			if err != nil {
				return fmt.Errorf("%s: %w", srv.name, err)
			}
			results[srv.name] = append(results[srv.name], r)
			fmt.Printf("%-5d %-9s %8d %8.0f %9s %7d %7d %7d %6d %8d %8d %8d %8d\n", round, srv.name, c.rate,
				float64(r.acks)/float64(c.period), r.ackDelay, r.discovers, r.offers, r.acks, r.nonUnique,
				r.srvRcvbuf, r.srvInErr, r.cliRcvbuf, r.cliInErr)
		}
	}
	fmt.Printf("load after: %s\n", load())
	mean := map[string]float64{}
	for _, srv := range servers {
		var sum float64
		var cli int64
		for _, r := range results[srv.name] {
			sum += float64(r.acks) / float64(c.period)
			cli += r.cliInErr // InErrors counts RcvbufErrors too
		}
		mean[srv.name] = sum / float64(len(results[srv.name]))
		fmt.Printf("%-9s %8.0f leases/s (mean of %d), client-side drops %d in all\n", srv.name, mean[srv.name], c.rounds, cli)
	}
	if results["appliance"] != nil {
		if err := auditCN2(filepath.Join(tmp, "state")); err != nil {
			return err
		}
	}
	if results["kea"] != nil {
		if err := auditKea(filepath.Join(tmp, "kea-leases4.csv")); err != nil {
			return err
		}
	}
	if mean["kea"] > 0 && mean["limit"] > 0 {
		fmt.Printf("ratios: appliance/kea %.2fx, appliance/limit %.2f, kea/limit %.2f\n",
			mean["appliance"]/mean["kea"], mean["appliance"]/mean["limit"], mean["kea"]/mean["limit"])
	}
	fmt.Printf("BENCH dhcp peer=%.0f appliance=%.0f limit=%.0f unit=leases/s\n", mean["kea"], mean["appliance"], mean["limit"])
	return nil
}

// runOne starts a server, loads it with perfdhcp, stops it, and returns the
// figures, /proc/net/snmp drops included.
func runOne(tp *dhcptest.Topology, c benchConfig, start func() (*exec.Cmd, error)) (run, error) {
	var r run
	cmd, err := start()
	if err != nil {
		return r, fmt.Errorf("start: %w", err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	srv0, err := dhcptest.UDPStats(tp.Srv)
	if err != nil {
		return r, err
	}
	cli0, err := dhcptest.UDPStats(tp.C1)
	if err != nil {
		return r, err
	}
	name, args := pinned(c.clientCPU, "perfdhcp", "-4", "-l", "eth0", "-r", strconv.Itoa(c.rate), "-p", strconv.Itoa(c.period),
		"-R", strconv.Itoa(c.clients), "-W", "1000000")
	out, perr := tp.Cmd(tp.C1, name, args...).CombinedOutput()
	var ee *exec.ExitError
	if perr != nil && !(errors.As(perr, &ee) && ee.ExitCode() == 3) {
		return r, fmt.Errorf("perfdhcp: %w\n%s", perr, out)
	}
	srv1, err := dhcptest.UDPStats(tp.Srv)
	if err != nil {
		return r, err
	}
	cli1, err := dhcptest.UDPStats(tp.C1)
	if err != nil {
		return r, err
	}
	o := string(out)
	r.acks = stat(o, "REQUEST-ACK", "received packets")
	r.requests = stat(o, "REQUEST-ACK", "sent packets")
	r.offers = stat(o, "DISCOVER-OFFER", "received packets")
	r.discovers = stat(o, "DISCOVER-OFFER", "sent packets")
	r.nonUnique = max(0, stat(o, "REQUEST-ACK", "non unique addresses")) + max(0, stat(o, "DISCOVER-OFFER", "non unique addresses"))
	r.ackDelay = statText(o, "REQUEST-ACK", "avg delay")
	r.srvRcvbuf, r.srvInErr = srv1["RcvbufErrors"]-srv0["RcvbufErrors"], srv1["InErrors"]-srv0["InErrors"]
	r.cliRcvbuf, r.cliInErr = cli1["RcvbufErrors"]-cli0["RcvbufErrors"], cli1["InErrors"]-cli0["InErrors"]
	return r, nil
}

// load is the first line of uptime.
func load() string {
	out, err := exec.Command("uptime").Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}

// startCN2 re-executes this binary with -serve inside the server namespace
// and waits for "ready".
func startCN2(tp *dhcptest.Topology, tmp string, c benchConfig) (*exec.Cmd, error) {
	cfg := labConfig()
	cfg.ReplyBurst, cfg.ReplyInterval = c.burst, c.every
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(tmp, "cn2-dhcp.json")
	if err := os.WriteFile(cfgPath, raw, 0o600); err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	name, args := pinned(c.serverCPU, self, "-serve", cfgPath, "-state", filepath.Join(tmp, "state"))
	cmd := tp.Cmd(tp.Srv, name, args...)
	cmd.Stderr = os.Stderr
	return cmd, waitFor(cmd, "ready")
}

// startKea starts kea-dhcp4 in the server namespace and waits for
// DHCP4_STARTED.
func startKea(tp *dhcptest.Topology, tmp, cpu string) (*exec.Cmd, error) {
	cfgPath := filepath.Join(tmp, "kea-dhcp4.json")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(keaConfig, tmp)), 0o600); err != nil {
		return nil, err
	}
	name, args := pinned(cpu, "kea-dhcp4", "-c", cfgPath)
	cmd := tp.Cmd(tp.Srv, name, args...)
	cmd.Env = append(os.Environ(), "KEA_LOCKFILE_DIR="+tmp, "KEA_PIDFILE_DIR="+tmp)
	return cmd, waitFor(cmd, "DHCP4_STARTED")
}

// waitFor starts cmd and returns once a stdout line contains marker; the
// rest of stdout is drained in the background.
func waitFor(cmd *exec.Cmd, marker string) error {
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if strings.Contains(sc.Text(), marker) {
			go func() {
				for sc.Scan() {
				}
			}()
			return nil
		}
	}
	_ = cmd.Wait()
	return fmt.Errorf("%s exited before %q", strings.Join(cmd.Args[3:], " "), marker)
}

// serveDHCP is the -serve mode: the DHCP server with a store in state,
// until SIGTERM.
func serveDHCP(cfgPath, state string) error {
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		return err
	}
	var cfg dhcp.Config
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return err
	}
	st, err := store.Open(state)
	if err != nil {
		return err
	}
	defer st.Close()
	stopProfile, err := benchenv.CPUProfile(os.Getenv("CN2_BENCH_CPUPROFILE"))
	if err != nil {
		return err
	}
	defer stopProfile()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	reg := prometheus.NewRegistry()
	s, err := dhcp.New(cfg, st, reg, log)
	if err != nil {
		return err
	}
	defer printCommits(reg)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case <-s.Ready():
		fmt.Println("ready")
	case err := <-done:
		return err
	}
	return <-done
}

// startLimit starts the fixed-reply server4 handler in the server
// namespace.
func startLimit(tp *dhcptest.Topology, cpu string) (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	name, args := pinned(cpu, self, "-limit")
	cmd := tp.Cmd(tp.Srv, name, args...)
	cmd.Stderr = os.Stderr
	return cmd, waitFor(cmd, "ready")
}

// serveLimit is the -limit mode: insomniacslk/dhcp's server4 on srv-a with
// a handler that answers DISCOVER with an OFFER and REQUEST with an ACK of
// an address derived from the MAC, sent to the relay (giaddr), with nothing
// stored: the cost of the library's parse and serialize and of the socket.
func serveLimit() error {
	conn, err := server4.NewIPv4UDPConn("srv-a", &net.UDPAddr{IP: net.IPv4zero, Port: 67})
	if err != nil {
		return err
	}
	_ = conn.SetReadBuffer(4 << 20) // as pkg/dhcp's sockets
	_ = conn.SetWriteBuffer(4 << 20)
	sid := net.IPv4(172, 16, 0, 1).To4()
	handler := func(c net.PacketConn, peer net.Addr, m *dhcpv4.DHCPv4) {
		var mt dhcpv4.MessageType
		switch m.MessageType() {
		case dhcpv4.MessageTypeDiscover:
			mt = dhcpv4.MessageTypeOffer
		case dhcpv4.MessageTypeRequest:
			mt = dhcpv4.MessageTypeAck
		default:
			return
		}
		hw := m.ClientHWAddr
		if len(hw) < 6 || m.GatewayIPAddr.IsUnspecified() {
			return
		}
		yi := net.IPv4(172, 16, 0, byte(20+(int(hw[4])<<8|int(hw[5]))%231))
		resp, err := dhcpv4.NewReplyFromRequest(m, dhcpv4.WithMessageType(mt), dhcpv4.WithYourIP(yi), dhcpv4.WithServerIP(sid),
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(sid)), dhcpv4.WithOption(dhcpv4.OptIPAddressLeaseTime(time.Hour)),
			dhcpv4.WithOption(dhcpv4.OptSubnetMask(net.CIDRMask(24, 32))), dhcpv4.WithOption(dhcpv4.OptRouter(sid)))
		if err != nil {
			return
		}
		_, _ = c.WriteTo(resp.ToBytes(), &net.UDPAddr{IP: m.GatewayIPAddr, Port: 67})
	}
	srv, err := server4.NewServer("srv-a", nil, handler, server4.WithConn(conn))
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	fmt.Println("ready")
	if err := srv.Serve(); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// printCommits prints, on stderr, the server's lease commit figures: groups,
// mean fsync'd commit time, mean group size, replies paced.
func printCommits(reg *prometheus.Registry) {
	mfs, err := reg.Gather()
	if err != nil {
		return
	}
	var groups uint64
	var secs, changes, paced float64
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch mf.GetName() {
			case "cn2_appliance_dhcp_lease_commit_duration_seconds":
				groups, secs = m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()
			case "cn2_appliance_dhcp_lease_commit_group_size":
				changes = m.GetHistogram().GetSampleSum()
			case "cn2_appliance_dhcp_replies_paced_total":
				paced = m.GetCounter().GetValue()
			}
		}
	}
	if groups > 0 {
		fmt.Fprintf(os.Stderr, "    appliance: %d commit groups, %.2f ms mean commit (journal write + fdatasync), %.1f messages per group, %.0f replies paced\n",
			groups, 1000*secs/float64(groups), changes/float64(groups), paced)
	}
}

// auditCN2 checks that no address is held by two leases in the appliance's
// store after every round (the store is opened as the appliance would open
// it: journal replayed).
func auditCN2(dir string) error {
	st, err := store.Open(dir)
	if err != nil {
		return err
	}
	defer st.Close()
	ls, err := st.Leases("")
	if err != nil {
		return err
	}
	seen := map[string]string{}
	for _, l := range ls {
		k := l.Network + "/" + l.IP.String()
		if other, dup := seen[k]; dup {
			return fmt.Errorf("appliance store: %s leased to %s and %s", k, other, l.MAC)
		}
		seen[k] = l.MAC
	}
	fmt.Printf("audit: appliance store holds %d leases, every address once\n", len(ls))
	return nil
}

// auditKea checks Kea's memfile the same way: the last record of each
// client (hwaddr) is its lease; no address may be the lease of two clients.
func auditKea(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(recs) == 0 {
		return fmt.Errorf("%s: empty", path)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	now := time.Now().Unix()
	last := map[string][]string{} // hwaddr -> record
	for _, r := range recs[1:] {
		if len(r) == len(recs[0]) && r[col["address"]] != "address" {
			last[r[col["hwaddr"]]] = r
		}
	}
	holder := map[string]string{}
	for hw, r := range last {
		exp, _ := strconv.ParseInt(r[col["expire"]], 10, 64)
		if r[col["valid_lifetime"]] == "0" || exp <= now || r[col["state"]] != "0" {
			continue
		}
		if other, dup := holder[r[col["address"]]]; dup {
			return fmt.Errorf("kea memfile: %s leased to %s and %s", r[col["address"]], other, hw)
		}
		holder[r[col["address"]]] = hw
	}
	fmt.Printf("audit: kea memfile holds %d leases, every address once\n", len(holder))
	return nil
}

// statText returns field's text of perfdhcp's "Statistics for: block"
// section, or "?".
func statText(out, block, field string) string {
	i := strings.Index(out, "Statistics for: "+block)
	if i < 0 {
		return "?"
	}
	sec := out[i+len("Statistics for: "):]
	if j := strings.Index(sec, "Statistics for: "); j >= 0 {
		sec = sec[:j]
	}
	fm := regexp.MustCompile(field + `: ([0-9.]+ ?[a-z]*)`).FindStringSubmatch(sec)
	if fm == nil {
		return "?"
	}
	return strings.ReplaceAll(fm[1], " ", "")
}

// stat returns field of perfdhcp's "Statistics for: block" section, or -1.
func stat(out, block, field string) int {
	m := regexp.MustCompile(`(?s)Statistics for: ` + block + `\*+\n(.*?)(\n\n|\*\*\*|$)`).FindStringSubmatch(out)
	if m == nil {
		return -1
	}
	fm := regexp.MustCompile(field + `: (\d+)`).FindStringSubmatch(m[1])
	if fm == nil {
		return -1
	}
	n, _ := strconv.Atoi(fm[1])
	return n
}
