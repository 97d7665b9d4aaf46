package appliance

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cn2-appliance/cn2-appliance/pkg/dhcp"
	"github.com/cn2-appliance/cn2-appliance/pkg/dhcp/dhcptest"
	"github.com/cn2-appliance/cn2-appliance/pkg/dns"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
)

// TestPoolClientsCannotTakeLabNames runs the example lab's DHCP and DNS servers, wired as the
// appliance wires them, in a server namespace. Pool clients (udhcpc, unknown MACs) on ctrl
// send host names the lab keeps for itself or that are not host names; dig must still get
// the lab's exact answers: NXDOMAIN for the installer's wildcard probe, the lab's records
// for api and for a node that has not booted yet, the ingress VIP under apps, and no PTR
// naming a pool address after a lab name. A second client asking for a name a live lease
// holds does not get it.
func TestPoolClientsCannotTakeLabNames(t *testing.T) {
	if why := dhcptest.CanRun("busybox", "dig"); why != "" {
		t.Skip("namespace test skipped: " + why)
	}
	tp, err := dhcptest.Up(fmt.Sprintf("cn2dyn%d-", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tp.Down(); err != nil {
			t.Errorf("topology down: %v", err)
		}
	})
	lab := *exampleLab(t)
	lab.Networks = append(lab.Networks[:0:0], lab.Networks...)
	lab.Networks[0].Interface, lab.Networks[1].Interface = "srv-a", "srv-b" // dhcptest's names
	lab.DNS.Forwarders = nil                                                // nothing leaves the namespaces
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reg := prometheus.NewRegistry()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	dh, err := dhcp.New(DHCPConfig(&lab), st, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := dns.New(DNSConfig(&lab), reg, log)
	if err != nil {
		t.Fatal(err)
	}
	nameLeases(dh, ds.Names(), log)
	runInNetns(t, tp.Srv, dh.Run, dh.Ready())
	runInNetns(t, tp.Srv, ds.Run, ds.Ready())
	if err := dhcptest.IP("-n", tp.C1, "addr", "add", "172.16.0.240/24", "dev", "eth0"); err != nil { // for dig; outside the pool
		t.Fatal(err)
	}

	dir := t.TempDir()
	hook, out := filepath.Join(dir, "hook.sh"), filepath.Join(dir, "lease.env")
	if err := os.WriteFile(hook, []byte("#!/bin/sh\n[ \"$1\" = bound ] && echo \"$ip\" > "+out+"\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// lease asks for a pool lease from mac, sending host name hostname, and returns the address.
	lease := func(mac, hostname string) string {
		t.Helper()
		if err := tp.SetMAC(tp.C1, mac); err != nil {
			t.Fatal(err)
		}
		_ = os.Remove(out)
		if b, err := tp.Cmd(tp.C1, "busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "5", "-T", "2", "-s", hook,
			"-x", "hostname:"+hostname).CombinedOutput(); err != nil {
			t.Fatalf("udhcpc %s (%s): %v\n%s", mac, hostname, err, b)
		}
		ip, err := os.ReadFile(out)
		if err != nil {
			t.Fatalf("udhcpc %s bound no lease: %v", mac, err)
		}
		return strings.TrimSpace(string(ip))
	}
	zone := lab.Zone()
	long := strings.Repeat("x", 70)
	ips := map[string]string{}
	for i, host := range []string{"validateNoWildcardDNS", "api", "API-INT", "ns", "ingress", "worker-1", "ctrl", "a.apps", long, "bastion"} {
		ips[host] = lease(fmt.Sprintf("02:00:00:00:d0:%02x", i+1), host)
	}
	second := lease("02:00:00:00:d0:ff", "bastion") // a live lease holds the name

	// dig asks the appliance on ctrl and returns the status and the answers' data.
	dig := func(args ...string) (string, []string) {
		t.Helper()
		b, err := tp.Cmd(tp.C1, "dig", append([]string{"@172.16.0.1", "+time=2", "+tries=2", "+noall", "+comments", "+answer"}, args...)...).CombinedOutput()
		if err != nil && !isExitErr(err) {
			t.Fatalf("dig %v: %v\n%s", args, err, b)
		}
		status, answers := "", []string(nil)
		for _, l := range strings.Split(string(b), "\n") {
			if _, rest, ok := strings.Cut(l, "status: "); ok {
				status, _, _ = strings.Cut(rest, ",")
			} else if f := strings.Fields(l); len(f) >= 5 && !strings.HasPrefix(l, ";") {
				answers = append(answers, f[len(f)-1])
			}
		}
		return status, answers
	}
	for _, q := range []struct {
		name, status string
		want         []string
	}{
		{"validateNoWildcardDNS." + zone, "NXDOMAIN", nil},
		{"api." + zone, "NOERROR", []string{"172.16.0.100"}},
		{"api-int." + zone, "NOERROR", []string{"172.16.0.100"}},
		{"ns." + zone, "NOERROR", []string{"172.16.0.1"}},
		{"ingress." + zone, "NOERROR", []string{"172.16.0.101"}},
		{"worker-1." + zone, "NOERROR", []string{"172.16.0.15"}},
		{"ctrl." + zone, "NOERROR", nil}, // an empty non-terminal (worker-1.ctrl...)
		{"a.apps." + zone, "NOERROR", []string{"172.16.0.101"}},
		{long[:63] + "." + zone, "NXDOMAIN", nil}, // not cut into a name the client did not ask for
		{"bastion." + zone, "NOERROR", []string{ips["bastion"]}},
	} {
		status, got := dig(q.name, "A")
		if status != q.status || strings.Join(got, ",") != strings.Join(q.want, ",") {
			t.Errorf("%s A: %s %v, want %s %v", q.name, status, got, q.status, q.want)
		}
	}
	// No pool address is named after a lab name; "a.apps" is the client a, the first bastion keeps its name.
	for host, ip := range ips {
		want := []string(nil)
		switch host {
		case "a.apps":
			want = []string{"a." + zone + "."}
		case "bastion":
			want = []string{"bastion." + zone + "."}
		}
		status, got := dig("-x", ip)
		if strings.Join(got, ",") != strings.Join(want, ",") || (want == nil) != (status == "NXDOMAIN") {
			t.Errorf("PTR of %s (the client named %q): %s %v, want %v", ip, host, status, got, want)
		}
	}
	if status, got := dig("-x", second); status != "NXDOMAIN" {
		t.Errorf("PTR of %s (the second bastion): %s %v, want NXDOMAIN", second, status, got)
	}
	for reason, want := range map[string]int{"reserved": 7, "invalid": 1, "taken": 1} {
		if v := refusedCount(t, reg, reason); v < want {
			t.Errorf("cn2_appliance_dns_dynamic_names_refused_total{reason=%q} = %d, want at least %d", reason, v, want)
		}
	}
}

func isExitErr(err error) bool {
	_, ok := err.(*exec.ExitError)
	return ok
}

// refusedCount is the refused-names counter for reason.
func refusedCount(t *testing.T, reg *prometheus.Registry, reason string) int {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "cn2_appliance_dns_dynamic_names_refused_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return int(m.GetCounter().GetValue())
				}
			}
		}
	}
	return -1
}
