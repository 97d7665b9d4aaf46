// Package dhcptest builds the two-subnet network-namespace topology the DHCP
// tests and the DHCP benchmark run in (TESTING.md section 2):
//
//	netns      iface (addr)                 peer in SW   bridge in SW
//	SRV        srv-a (172.16.0.1/24)  <-veth->  s-srv-a      br-a  (ctrl)
//	SRV        srv-b (10.16.0.1/24)   <-veth->  s-srv-b      br-b  (data)
//	C1         eth0  (no address)     <-veth->  s-c1         br-a
//	C2         eth0  (no address)     <-veth->  s-c2         br-b
//
// Bridges have STP off and forward delay 0. Every name carries a unique
// prefix; Down kills every process left in the namespaces, by PID, and
// deletes them. It needs root and iproute2; it touches nothing outside its
// namespaces.
package dhcptest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// Topology is a running set of namespaces.
type Topology struct {
	Prefix              string
	Switch, Srv, C1, C2 string // namespace names
}

// Up creates the topology with names prefixed by prefix (e.g. "cn2dh1234-").
// On error it removes what it created.
func Up(prefix string) (*Topology, error) {
	t := &Topology{Prefix: prefix, Switch: prefix + "sw", Srv: prefix + "srv", C1: prefix + "c1", C2: prefix + "c2"}
	steps := [][]string{}
	add := func(args ...string) { steps = append(steps, args) }
	for _, ns := range t.all() {
		add("netns", "add", ns)
		add("-n", ns, "link", "set", "lo", "up")
	}
	for _, br := range []string{"br-a", "br-b"} {
		add("-n", t.Switch, "link", "add", br, "type", "bridge", "stp_state", "0", "forward_delay", "0")
		add("-n", t.Switch, "link", "set", br, "up")
	}
	link := func(ns, ifname, br, swname string) {
		add("link", "add", swname, "netns", t.Switch, "type", "veth", "peer", "name", ifname, "netns", ns)
		add("-n", t.Switch, "link", "set", swname, "master", br, "up")
		add("-n", ns, "link", "set", ifname, "up")
	}
	link(t.Srv, "srv-a", "br-a", "s-srv-a")
	link(t.Srv, "srv-b", "br-b", "s-srv-b")
	link(t.C1, "eth0", "br-a", "s-c1")
	link(t.C2, "eth0", "br-b", "s-c2")
	add("-n", t.Srv, "addr", "add", "172.16.0.1/24", "dev", "srv-a")
	add("-n", t.Srv, "addr", "add", "10.16.0.1/24", "dev", "srv-b")
	for _, s := range steps {
		if err := IP(s...); err != nil {
			return nil, errors.Join(fmt.Errorf("dhcptest: topology up: %w", err), t.Down())
		}
	}
	return t, nil
}

func (t *Topology) all() []string { return []string{t.Switch, t.Srv, t.C1, t.C2} }

// Down kills every process in the namespaces (SIGKILL, by PID) and deletes
// them. It is safe to call on a partly built topology and more than once.
func (t *Topology) Down() error {
	var errs []error
	for _, ns := range t.all() {
		out, err := exec.Command("ip", "netns", "pids", ns).Output()
		if err != nil {
			continue // not there
		}
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if err := IP("netns", "del", ns); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// SetMAC sets the MAC of eth0 in the client namespace ns.
func (t *Topology) SetMAC(ns, mac string) error {
	for _, s := range [][]string{
		{"-n", ns, "link", "set", "eth0", "down"},
		{"-n", ns, "link", "set", "eth0", "address", mac},
		{"-n", ns, "link", "set", "eth0", "up"},
	} {
		if err := IP(s...); err != nil {
			return err
		}
	}
	return nil
}

// Cmd is name args... run inside namespace ns.
func (t *Topology) Cmd(ns, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

// IP runs ip(8) with args.
func IP(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// CanRun says why the topology cannot be built here ("" if it can).
func CanRun(bins ...string) string {
	if os.Geteuid() != 0 {
		return "needs root (network namespaces)"
	}
	for _, b := range append([]string{"ip"}, bins...) {
		if _, err := exec.LookPath(b); err != nil {
			return b + " is not installed (scripts/install-test-deps.sh)"
		}
	}
	return ""
}

// UDPStats returns the Udp counters of /proc/net/snmp inside namespace ns
// (InDatagrams, NoPorts, InErrors, OutDatagrams, RcvbufErrors, SndbufErrors,
// ...): RcvbufErrors counts datagrams dropped because a socket's receive
// buffer was full.
func UDPStats(ns string) (map[string]int64, error) {
	out, err := exec.Command("ip", "netns", "exec", ns, "cat", "/proc/net/snmp").Output()
	if err != nil {
		return nil, fmt.Errorf("dhcptest: read /proc/net/snmp in %s: %w", ns, err)
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f[1:]
			continue
		}
		stats := map[string]int64{}
		for i, v := range f[1:] {
			if i < len(names) {
				stats[names[i]], _ = strconv.ParseInt(v, 10, 64)
			}
		}
		return stats, nil
	}
	return nil, fmt.Errorf("dhcptest: no Udp counters in /proc/net/snmp of %s", ns)
}
