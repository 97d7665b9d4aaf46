// Command dhcp-bench compares cn2-appliance's DHCP server with Kea's
// kea-dhcp4 under perfdhcp, on the same namespace topology, in one run:
//
//	go run ./bench/dhcp                     # as root; -rate, -period, -clients to change the load
//
// It builds the two-subnet topology (pkg/dhcp/dhcptest), then for each
// server in turn starts it in the server namespace (cn2-appliance: this
// binary re-executed with -serve, leases durable in a bbolt store in a temp
// folder, every ACK waiting for its fsync'd group commit; Kea: memfile lease
// file, WARN logging, config in the temp folder), runs perfdhcp from the
// client namespace (it acts as a relay: giaddr 172.16.0.10) at the same rate
// for the same period, stops the server, and prints completed DORA
// exchanges per second (REQUEST-ACK received / period) for both and the
// ratio. Everything is removed at the end.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/dhcp"
	"github.com/cn2-appliance/cn2-appliance/pkg/dhcp/dhcptest"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
)

func main() {
	serve := flag.String("serve", "", "internal: serve DHCP with this JSON config (used inside the server namespace)")
	state := flag.String("state", "", "internal: state folder for -serve")
	rate := flag.Int("rate", 6000, "perfdhcp -r: DORA exchanges started per second")
	period := flag.Int("period", 5, "perfdhcp -p: seconds of load per server")
	nclients := flag.Int("clients", 200, "perfdhcp -R: distinct client MACs")
	rounds := flag.Int("rounds", 2, "rounds; the servers' order alternates between rounds and the means are compared")
	flag.Parse()
	if *serve != "" {
		if err := serveDHCP(*serve, *state); err != nil {
			fmt.Fprintln(os.Stderr, "serve:", err)
			os.Exit(1)
		}
		return
	}
	if err := bench(*rate, *period, *nclients, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "dhcp-bench:", err)
		os.Exit(1)
	}
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

func bench(rate, period, nclients, rounds int) error {
	if why := dhcptest.CanRun("perfdhcp", "kea-dhcp4"); why != "" {
		return errors.New(why)
	}
	tmp, err := os.MkdirTemp("", "cn2-dhcp-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	tp, err := dhcptest.Up(fmt.Sprintf("cn2bd%d-", os.Getpid()))
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
	fmt.Printf("perfdhcp -r %d -p %d -R %d (relay 172.16.0.10) against each server; 2 shared cores\n", rate, period, nclients)

	type server struct {
		name  string
		start func() (*exec.Cmd, error)
	}
	cn2Name, keaName := "cn2-appliance (bbolt, fsync per group commit)", "kea-dhcp4 (memfile, WARN log)"
	servers := []server{
		{cn2Name, func() (*exec.Cmd, error) { return startCN2(tp, tmp) }},
		{keaName, func() (*exec.Cmd, error) { return startKea(tp, tmp) }},
	}
	results := map[string]float64{}
	for round := 1; round <= rounds; round++ {
		order := servers
		if round%2 == 0 { // the second server of a round runs on a warmer machine: alternate
			order = []server{servers[1], servers[0]}
		}
		for _, srv := range order {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			cmd, err := srv.start()
			if err != nil {
				return fmt.Errorf("start %s: %w", srv.name, err)
			}
			out, perr := tp.Cmd(tp.C1, "perfdhcp", "-4", "-l", "eth0", "-r", strconv.Itoa(rate), "-p", strconv.Itoa(period),
				"-R", strconv.Itoa(nclients), "-W", "1000000").CombinedOutput()
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
			var ee *exec.ExitError
			if perr != nil && !(errors.As(perr, &ee) && ee.ExitCode() == 3) {
				return fmt.Errorf("perfdhcp against %s: %w\n%s", srv.name, perr, out)
			}
			acks := stat(string(out), "REQUEST-ACK", "received packets")
			offers := stat(string(out), "DISCOVER-OFFER", "received packets")
			discovers := stat(string(out), "DISCOVER-OFFER", "sent packets")
			nonUnique := stat(string(out), "REQUEST-ACK", "non unique addresses")
			rps := float64(acks) / float64(period)
			results[srv.name] += rps / float64(rounds)
			fmt.Printf("round %d %-48s %8.0f leases/s   (DISCOVER sent %d, OFFER %d, ACK %d, non-unique %d)\n",
				round, srv.name, rps, discovers, offers, acks, nonUnique)
		}
	}
	for _, srv := range servers {
		fmt.Printf("%-56s %8.0f leases/s (mean of %d)\n", srv.name, results[srv.name], rounds)
	}
	if err := checkCN2Store(filepath.Join(tmp, "state")); err != nil {
		return err
	}
	cn2, kea := results[cn2Name], results[keaName]
	if kea > 0 {
		fmt.Printf("ratio cn2-appliance / kea-dhcp4: %.2fx\n", cn2/kea)
	}
	return nil
}

// startCN2 re-executes this binary with -serve inside the server namespace
// and waits for "ready".
func startCN2(tp *dhcptest.Topology, tmp string) (*exec.Cmd, error) {
	raw, err := json.Marshal(labConfig())
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
	cmd := tp.Cmd(tp.Srv, self, "-serve", cfgPath, "-state", filepath.Join(tmp, "state"))
	cmd.Stderr = os.Stderr
	return cmd, waitFor(cmd, "ready")
}

// startKea starts kea-dhcp4 in the server namespace and waits for
// DHCP4_STARTED.
func startKea(tp *dhcptest.Topology, tmp string) (*exec.Cmd, error) {
	cfgPath := filepath.Join(tmp, "kea-dhcp4.json")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(keaConfig, tmp)), 0o600); err != nil {
		return nil, err
	}
	cmd := tp.Cmd(tp.Srv, "kea-dhcp4", "-c", cfgPath)
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
	return fmt.Errorf("%s exited before %q", cmd.Args[3], marker)
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
	if path := os.Getenv("CN2_BENCH_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := dhcp.New(cfg, st, nil, log)
	if err != nil {
		return err
	}
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

// checkCN2Store verifies that no address is in two leases after the run.
func checkCN2Store(dir string) error {
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
			return fmt.Errorf("store: %s leased to %s and %s", k, other, l.MAC)
		}
		seen[k] = l.MAC
	}
	fmt.Printf("cn2-appliance store after the run: %d leases, every address once\n", len(ls))
	return nil
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
