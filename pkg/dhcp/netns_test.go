package dhcp

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/cn2-appliance/cn2-appliance/pkg/dhcp/dhcptest"
)

// topo builds the namespace topology for one test (prefix cn2dh<pid>-<n>-,
// unique per process and test) and removes it at the end, even on failure.
var topoSeq int

func topo(t *testing.T, bins ...string) *dhcptest.Topology {
	t.Helper()
	if why := dhcptest.CanRun(bins...); why != "" {
		t.Skip("namespace test skipped: " + why)
	}
	topoSeq++
	tp, err := dhcptest.Up(fmt.Sprintf("cn2dh%d-%d-", os.Getpid(), topoSeq))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tp.Down(); err != nil {
			t.Errorf("topology down: %v", err)
		}
	})
	return tp
}

// serverProc is the DHCP server helper process in the server namespace.
type serverProc struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
}

// startServer runs the server with cfg and the state folder dir inside the
// server namespace and waits until it has bound its sockets.
func startServer(t *testing.T, tp *dhcptest.Topology, cfg Config, dir string) *serverProc {
	t.Helper()
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "dhcp-config.json")
	if err := os.WriteFile(cfgPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := tp.Cmd(tp.Srv, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), serveEnv+"="+cfgPath, stateEnv+"="+filepath.Join(dir, "state"))
	p := &serverProc{cmd: cmd, stderr: &lockedBuffer{}}
	cmd.Stderr = p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.kill() })
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if sc.Text() == "ready" {
			go func() { // drain, so the helper never blocks on stdout
				for sc.Scan() {
				}
			}()
			return p
		}
	}
	_ = cmd.Wait()
	t.Fatalf("dhcp server did not start: %s", p.stderr)
	return nil
}

// lockedBuffer collects a helper's output; tests read it while the helper writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// stop ends the server with SIGTERM and waits for it.
func (p *serverProc) stop(t *testing.T) {
	t.Helper()
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.cmd.Wait(); err != nil {
		t.Errorf("dhcp server exit: %v\n%s", err, p.stderr)
	}
}

// kill SIGKILLs the server (by PID) and waits for it.
func (p *serverProc) kill() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
}

// netConfig is the lab config plus reservations for the test clients.
func netConfig() Config {
	cfg := labConfig()
	for i, c := range []string{"udhcpc", "dhclient", "dhcpcd"} {
		cfg.Networks[0].Reservations = append(cfg.Networks[0].Reservations, Reservation{
			MAC: mustMAC(fmt.Sprintf("52:54:00:00:00:%02x", 0x21+i)), IP: a4(fmt.Sprintf("172.16.0.%d", 21+i)), Hostname: "node-" + c})
		cfg.Networks[1].Reservations = append(cfg.Networks[1].Reservations, Reservation{
			MAC: mustMAC(fmt.Sprintf("52:54:00:00:01:%02x", 0x21+i)), IP: a4(fmt.Sprintf("10.16.0.%d", 21+i)), Hostname: "node-" + c})
	}
	cfg.Networks[0].NTPServers = []netip.Addr{a4("172.16.0.1")}
	cfg.Networks[1].NTPServers = []netip.Addr{a4("10.16.0.1")}
	return cfg
}

// hook writes a client hook script that appends its arguments and
// environment to out and changes nothing on the host (TESTING.md A5).
func hook(t *testing.T, dir, name string) (script, out string) {
	t.Helper()
	script, out = filepath.Join(dir, name+".sh"), filepath.Join(dir, name+".out")
	body := fmt.Sprintf("#!/bin/sh\n{ echo \"=== $1 ${reason:-}\"; env; } >> %s\nexit 0\n", out)
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return script, out
}

// result is what a client's hook saw for its lease, in common keys.
type result map[string]string

// keys of udhcpc and of dhclient/dhcpcd (new_*) mapped to common names.
var clientKeys = map[string]string{
	"ip": "ip", "subnet": "mask", "router": "router", "dns": "dns", "domain": "domain", "search": "search",
	"hostname": "hostname", "ntpsrv": "ntp", "broadcast": "bcast", "mtu": "mtu", "serverid": "serverid",
	"lease": "lease", "siaddr": "siaddr", "boot_file": "file", "vendor": "opt60", "tftp": "tftp", "bootfile": "bootfile",
	"new_ip_address": "ip", "new_subnet_mask": "mask", "new_routers": "router", "new_domain_name_servers": "dns",
	"new_domain_name": "domain", "new_domain_search": "search", "new_host_name": "hostname", "new_ntp_servers": "ntp",
	"new_broadcast_address": "bcast", "new_interface_mtu": "mtu", "new_dhcp_server_identifier": "serverid",
	"new_dhcp_lease_time": "lease", "new_next_server": "siaddr", "new_filename": "file",
}

// bound parses the hook output and returns the last block that has an
// address (bound / BOUND / REBOOT ...), with its reason under "reason".
func bound(t *testing.T, out string) result {
	t.Helper()
	raw, err := os.ReadFile(out)
	if err != nil {
		return nil
	}
	var last result
	for _, block := range strings.Split(string(raw), "=== ")[1:] {
		lines := strings.Split(block, "\n")
		r := result{"reason": strings.TrimSpace(lines[0])}
		for _, l := range lines[1:] {
			k, v, ok := strings.Cut(l, "=")
			if !ok {
				continue
			}
			if ck, ok := clientKeys[k]; ok {
				r[ck] = strings.Trim(v, "'\"")
			}
		}
		if r["ip"] != "" {
			last = r
		}
	}
	return last
}

// client is one DHCP client run in namespace ns with hook script sc.
type client struct {
	name string
	run  func(t *testing.T, tp *dhcptest.Topology, ns, dir, sc string, extra ...string) error
}

var clients = []client{
	{"udhcpc", func(t *testing.T, tp *dhcptest.Topology, ns, dir, sc string, extra ...string) error {
		args := append([]string{"udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "3", "-T", "1", "-s", sc,
			"-O", "search", "-O", "ntpsrv", "-O", "mtu", "-O", "hostname", "-O", "domain", "-O", "broadcast"}, extra...)
		return run(tp.Cmd(ns, "busybox", args...))
	}},
	{"dhclient", func(t *testing.T, tp *dhcptest.Topology, ns, dir, sc string, extra ...string) error {
		conf := filepath.Join(dir, "dhclient.conf")
		if err := os.WriteFile(conf, []byte("request subnet-mask, broadcast-address, routers, domain-name, domain-name-servers, domain-search, host-name, ntp-servers, interface-mtu;\n"), 0o644); err != nil {
			return err
		}
		pf := filepath.Join(dir, "dhclient.pid")
		err := run(tp.Cmd(ns, "dhclient", "-1", "-v", "-cf", conf, "-sf", sc, "-lf", filepath.Join(dir, "dhclient.leases"), "-pf", pf, "eth0"))
		_ = run(tp.Cmd(ns, "dhclient", "-x", "-cf", conf, "-sf", sc, "-lf", filepath.Join(dir, "dhclient.leases"), "-pf", pf, "eth0"))
		return err
	}},
	{"dhcpcd", func(t *testing.T, tp *dhcptest.Topology, ns, dir, sc string, extra ...string) error {
		conf := filepath.Join(dir, "dhcpcd.conf")
		if err := os.WriteFile(conf, []byte("nodelay\nipv4only\nnoipv4ll\nnoarp\noption domain_name_servers, domain_name, domain_search, host_name, ntp_servers, interface_mtu, routers, broadcast_address\n"), 0o644); err != nil {
			return err
		}
		// Private tmpfs state folders (/var/lib/dhcpcd, /run): dhcpcd keys its files by ifname in
		// host paths (TESTING.md section 3).
		return run(tp.Cmd(ns, "sh", "-c", "mount -t tmpfs tmpfs /var/lib/dhcpcd && mount -t tmpfs tmpfs /run && exec dhcpcd -1 -4 -B -t 10 -f "+conf+" --noconfigure -c "+sc+" eth0"))
	}},
}

func run(cmd *exec.Cmd) error {
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return nil
}

func TestClientsGetReservations(t *testing.T) {
	tp := topo(t, "busybox", "dhclient", "dhcpcd")
	dir := t.TempDir()
	startServer(t, tp, netConfig(), dir)
	for i, c := range clients {
		for _, nw := range []struct {
			ns, mac, ip, router, dns, bcast, mtu string
		}{
			{tp.C1, fmt.Sprintf("52:54:00:00:00:%02x", 0x21+i), fmt.Sprintf("172.16.0.%d", 21+i), "172.16.0.254", "172.16.0.1", "172.16.0.255", ""},
			{tp.C2, fmt.Sprintf("52:54:00:00:01:%02x", 0x21+i), fmt.Sprintf("10.16.0.%d", 21+i), "", "10.16.0.1", "10.16.0.255", "9000"},
		} {
			t.Run(c.name+"/"+nw.ip, func(t *testing.T) {
				if err := tp.SetMAC(nw.ns, nw.mac); err != nil {
					t.Fatal(err)
				}
				cdir := t.TempDir()
				sc, out := hook(t, cdir, c.name)
				if err := c.run(t, tp, nw.ns, cdir, sc); err != nil {
					t.Fatal(err)
				}
				got := bound(t, out)
				want := result{
					"ip": nw.ip, "mask": "255.255.255.0", "router": nw.router, "dns": nw.dns, "domain": "mycluster.contrail.lan",
					"hostname": "node-" + c.name, "ntp": nw.dns, "bcast": nw.bcast, "mtu": nw.mtu, "serverid": nw.dns, "lease": "3600",
				}
				for k, v := range want {
					if g := got[k]; g != v {
						t.Errorf("%s: %s = %q, want %q", c.name, k, g, v)
					}
				}
				if s := strings.TrimSuffix(got["search"], "."); s != "mycluster.contrail.lan" {
					t.Errorf("%s: search = %q", c.name, got["search"])
				}
				if t.Failed() {
					t.Logf("hook saw: %v", got)
				}
			})
		}
	}
}

func TestUnknownClientsInNamespaces(t *testing.T) {
	tp := topo(t, "busybox")
	dir := t.TempDir()
	startServer(t, tp, netConfig(), dir)
	// ctrl serves unknown MACs from its pool.
	if err := tp.SetMAC(tp.C1, "02:00:00:00:bb:01"); err != nil {
		t.Fatal(err)
	}
	sc, out := hook(t, dir, "pool")
	if err := clients[0].run(t, tp, tp.C1, dir, sc); err != nil {
		t.Fatal(err)
	}
	got := bound(t, out)
	if ip, err := netip.ParseAddr(got["ip"]); err != nil || ip.Less(a4("172.16.0.50")) || a4("172.16.0.99").Less(ip) || got["hostname"] != "" {
		t.Errorf("unknown MAC on ctrl got %v, want a pool address and no host name", got)
	}
	// data ignores unknown MACs: udhcpc gives up (-n) with no lease.
	if err := tp.SetMAC(tp.C2, "02:00:00:00:bb:02"); err != nil {
		t.Fatal(err)
	}
	sc, out = hook(t, dir, "ignored")
	if err := clients[0].run(t, tp, tp.C2, dir, sc); err == nil {
		t.Errorf("unknown MAC on data got a lease: %v", bound(t, out))
	}
}

func TestPXEInNamespaces(t *testing.T) {
	tp := topo(t, "busybox")
	dir := t.TempDir()
	startServer(t, tp, netConfig(), dir)
	const base = "http://172.16.0.1:8080"
	for _, tc := range []struct {
		name, mac string
		args      []string
		file      string // option 67 ("" = none)
		tftp      bool   // option 66 = 172.16.0.1
		http      bool   // option 60 HTTPClient in the reply
	}{
		{"BIOS", "52:54:00:00:00:11", []string{"-V", "PXEClient:Arch:00000:UNDI:002001", "-x", "0x5d:0000"}, "undionly.kpxe", true, false},
		{"UEFI x64", "52:54:00:00:00:11", []string{"-V", "PXEClient:Arch:00007:UNDI:003016", "-x", "0x5d:0007"}, "ipxe.efi", true, false},
		{"UEFI HTTP", "52:54:00:00:00:11", []string{"-V", "HTTPClient:Arch:00016:UNDI:003001", "-x", "0x5d:0010"}, base + "/ipxe.efi", false, true},
		{"iPXE", "52:54:00:00:00:11", []string{"-V", "PXEClient:Arch:00000:UNDI:002001", "-x", "0x5d:0000", "-x", "0x4d:69505845"}, base + "/boot/52-54-00-00-00-11.ipxe", false, false},
		{"unknown MAC: no boot file", "02:00:00:00:cc:01", []string{"-V", "PXEClient:Arch:00000:UNDI:002001", "-x", "0x5d:0000"}, "", false, false},
		{"not a netboot client", "52:54:00:00:00:11", nil, "", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tp.SetMAC(tp.C1, tc.mac); err != nil {
				t.Fatal(err)
			}
			cdir := t.TempDir()
			sc, out := hook(t, cdir, "pxe")
			args := append([]string{"-O", "tftp", "-O", "bootfile", "-O", "60"}, tc.args...)
			if err := clients[0].run(t, tp, tp.C1, cdir, sc, args...); err != nil {
				t.Fatal(err)
			}
			got := bound(t, out)
			if got["bootfile"] != tc.file {
				t.Errorf("option 67 %q, want %q (hook saw %v)", got["bootfile"], tc.file, got)
			}
			if tc.file != "" && got["siaddr"] != "172.16.0.1" {
				t.Errorf("siaddr %q", got["siaddr"])
			}
			if (got["tftp"] == "172.16.0.1") != tc.tftp {
				t.Errorf("option 66 %q, want present=%v", got["tftp"], tc.tftp)
			}
			if http := got["opt60"] == "HTTPClient"; http != tc.http {
				t.Errorf("option 60 %q, want HTTPClient=%v; hook output:\n%s", got["opt60"], tc.http, readFile(out))
			}
		})
	}
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

func mkdir(t *testing.T, d string) string {
	t.Helper()
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

func isExit(err error, code int) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee) && ee.ExitCode() == code
}
