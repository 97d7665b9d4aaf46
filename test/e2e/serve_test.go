package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeExampleLab runs `cn2-appliance serve` on the example lab in a namespace whose
// interfaces carry the lab's addresses, leases addresses to udhcpc clients on both networks,
// asks it with dig, reloads it with a broken and then a changed lab file, and stops it with
// SIGTERM.
func TestServeExampleLab(t *testing.T) {
	needRoot(t, "dig", "busybox")
	bin := binary(t)
	dir := t.TempDir()
	copyTree(t, "../../configs", dir)
	lab := filepath.Join(dir, "lab.example.yaml")
	original, err := os.ReadFile(lab)
	if err != nil {
		t.Fatal(err)
	}
	// No upstream: this test must not send queries anywhere outside its namespace.
	writeLab := func(s string) {
		s = strings.Replace(s, "forwarders: [192.0.2.53]", "forwarders: [127.0.0.1:5399]", 1)
		if err := os.WriteFile(lab, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeLab(string(original))

	top := newLabTopology(t, "ens4=172.16.0.1/24", "ens5=10.16.0.1/24")
	ns := top.server
	var logs syncBuffer
	cmd := ns.command(bin, "serve", "--no-install", "-c", lab, "--state-dir", filepath.Join(dir, "state"))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		t.Logf("serve log:\n%s", logs.String())
	})

	dig := func(server string, args ...string) string {
		out, _ := ns.command("dig", append([]string{"@" + server, "+short", "+time=1", "+tries=1"}, args...)...).CombinedOutput()
		return strings.TrimSpace(string(out))
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for range 600 { // a generous bound for a loaded machine, not a timing check
			if ok() {
				return
			}
			select {
			case err := <-done:
				t.Fatalf("serve exited while waiting for %s: %v", what, err)
			case <-time.After(100 * time.Millisecond):
			}
		}
		t.Fatalf("gave up waiting for %s", what)
	}
	waitFor("the DNS server", func() bool { return dig("172.16.0.1", "api.mycluster.contrail.lan") == "172.16.0.100" })

	for _, q := range []struct {
		server, want string
		args         []string
	}{
		{"10.16.0.1", "172.16.0.100", []string{"api-int.mycluster.contrail.lan"}},
		{"127.0.0.1", "172.16.0.101", []string{"console-openshift-console.apps.mycluster.contrail.lan"}},
		{"172.16.0.1", "master-1.data.mycluster.contrail.lan.", []string{"-x", "10.16.0.12"}},
		{"172.16.0.1", "10.16.0.15", []string{"worker-1.data.mycluster.contrail.lan"}},
	} {
		if got := dig(q.server, q.args...); got != q.want {
			t.Errorf("dig @%s %v = %q, want %q", q.server, q.args, got, q.want)
		}
	}

	// DHCP: a node's NIC gets its reservation with the lab's options; an unknown client gets a
	// pool address and a DNS name from the host name it sent.
	hook := filepath.Join(dir, "udhcpc-hook.sh")
	if err := os.WriteFile(hook, []byte("#!/bin/sh\n[ \"$1\" = bound ] && echo \"lease ip=$ip router=$router dns=$dns domain=$domain hostname=$hostname\"\nexit 0\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	lease := func(iface, mac string, extra ...string) string {
		c := top.clients[iface]
		c.sh(t, "ip", "link", "set", "eth0", "down")
		c.sh(t, "ip", "link", "set", "eth0", "address", mac)
		c.sh(t, "ip", "link", "set", "eth0", "up")
		args := append([]string{"udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "5", "-T", "1", "-s", hook}, extra...)
		out, _ := c.command("busybox", args...).CombinedOutput() // exits 1 when it gets no lease
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, "lease ") {
				return line
			}
		}
		return ""
	}
	if got, want := lease("ens4", "52:54:00:00:00:12"), "lease ip=172.16.0.12 router=172.16.0.254 dns=172.16.0.1 domain=mycluster.contrail.lan hostname=master-1"; got != want {
		t.Errorf("master-1 on ctrl:\n got %q\nwant %q", got, want)
	}
	if got, want := lease("ens5", "52:54:00:00:01:15"), "lease ip=10.16.0.15 router= dns=10.16.0.1 domain=mycluster.contrail.lan hostname=worker-1"; got != want {
		t.Errorf("worker-1 on data:\n got %q\nwant %q", got, want)
	}
	if got := lease("ens5", "02:00:00:00:00:99"); got != "" {
		t.Errorf("unknown client on data (no pool) got %q", got)
	}
	got := lease("ens4", "02:00:00:00:00:42", "-x", "hostname:lab-laptop")
	var poolIP string
	if _, err := fmt.Sscanf(got, "lease ip=%s", &poolIP); err != nil || !strings.HasPrefix(poolIP, "172.16.0.") {
		t.Fatalf("unknown client on ctrl got %q, want a pool address", got)
	}
	if got := dig("172.16.0.1", "lab-laptop.mycluster.contrail.lan"); got != poolIP {
		t.Errorf("lab-laptop.mycluster.contrail.lan = %q, want its lease %s", got, poolIP)
	}

	// A broken lab file: the reload is refused and the old lab keeps answering.
	writeLab(strings.Replace(string(original), "apiVIP: 172.16.0.100", "apiVIP: 172.16.0.60", 1))
	_ = cmd.Process.Signal(syscall.SIGHUP)
	waitFor("the refused reload", func() bool { return strings.Contains(logs.String(), "reload failed") })
	if !strings.Contains(logs.String(), "cluster.apiVIP: 172.16.0.60 is inside the DHCP pool") {
		t.Error("the refused reload does not say why")
	}
	if got := dig("172.16.0.1", "api.mycluster.contrail.lan"); got != "172.16.0.100" {
		t.Errorf("after a refused reload api = %q, want the old 172.16.0.100", got)
	}

	// A good change is applied.
	writeLab(strings.Replace(string(original), "apiVIP: 172.16.0.100", "apiVIP: 172.16.0.102", 1))
	_ = cmd.Process.Signal(syscall.SIGHUP)
	waitFor("the new API VIP", func() bool { return dig("172.16.0.1", "api.mycluster.contrail.lan") == "172.16.0.102" })

	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve exited with %v after SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30s of SIGTERM")
	}
	log := logs.String()
	for _, secret := range []string{"FAKE-EXAMPLE-OFFLINE-TOKEN", "FAKE-EXAMPLE-BMC-PASSWORD", "FAKE-EXAMPLE-IPMI-PASSWORD", "ZmFrZS11c2VyOkZBS0UtRVhBTVBMRS1OT1QtQS1SRUFMLVNFQ1JFVA=="} {
		if strings.Contains(log, secret) {
			t.Errorf("the log shows a secret (%s)", secret[:12])
		}
	}
	if !strings.Contains(log, "serve: stopped") {
		t.Error("no clean-stop line in the log")
	}
}
