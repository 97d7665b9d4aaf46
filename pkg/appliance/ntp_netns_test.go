package appliance

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/netnstest"
	"github.com/cn2-appliance/cn2-appliance/pkg/dhcp"
	"github.com/cn2-appliance/cn2-appliance/pkg/dhcp/dhcptest"
	"github.com/cn2-appliance/cn2-appliance/pkg/ntp"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
)

// syncedHost is a host clock its daemon keeps synchronised.
type syncedHost struct{}

func (syncedHost) SyncState() (ntp.SyncState, error) {
	return ntp.SyncState{Synchronised: true, MaxError: 20 * time.Millisecond}, nil
}

// runInNetns runs a service's Run on an OS thread in network namespace name, so the sockets
// it binds before serving are there, and waits until it is ready.
func runInNetns(t *testing.T, name string, run func(context.Context) error, ready <-chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- netnstest.InNetns(name, func() error { return run(ctx) }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	select {
	case <-ready:
	case err := <-done:
		done <- err
		t.Fatalf("run: %v", err)
	}
}

// TestDataNetworkNTP runs the example lab's DHCP and NTP servers, as the appliance builds
// them, in a server namespace (dhcptest's topology: ctrl and data on two bridges). master-0's
// data NIC asks with udhcpc for a lease: option 42 must be the appliance's data-network
// address, and chronyd -Q and sntp on the data network must accept the NTP server there.
func TestDataNetworkNTP(t *testing.T) {
	if why := dhcptest.CanRun("busybox", "chronyd", "sntp"); why != "" {
		t.Skip("namespace test skipped: " + why)
	}
	tp, err := dhcptest.Up(fmt.Sprintf("cn2ntpa%d-", os.Getpid()))
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
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	dh, err := dhcp.New(DHCPConfig(&lab), st, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := ntp.New(NTPConfig(&lab), syncedHost{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	runInNetns(t, tp.Srv, dh.Run, dh.Ready())
	runInNetns(t, tp.Srv, ts.Run, ts.Ready())

	// master-0's data NIC: udhcpc's hook writes what it was handed and configures nothing.
	if err := tp.SetMAC(tp.C2, "52:54:00:00:01:11"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	hook, out := filepath.Join(dir, "hook.sh"), filepath.Join(dir, "lease.env")
	if err := os.WriteFile(hook, []byte("#!/bin/sh\n[ \"$1\" = bound ] && env > "+out+"\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if b, err := tp.Cmd(tp.C2, "busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "5", "-T", "2", "-s", hook, "-O", "ntpsrv").CombinedOutput(); err != nil {
		t.Fatalf("udhcpc: %v\n%s", err, b)
	}
	env, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("udhcpc bound no lease: %v", err)
	}
	lease := map[string]string{}
	for _, l := range strings.Split(string(env), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			lease[k] = v
		}
	}
	if lease["ip"] != "10.16.0.11" || lease["ntpsrv"] != "10.16.0.1" {
		t.Fatalf("data NIC got ip %q, NTP servers %q; want 10.16.0.11 and 10.16.0.1 (the appliance on data)", lease["ip"], lease["ntpsrv"])
	}

	// Configure the lease by hand, and ask the server it names.
	if err := dhcptest.IP("-n", tp.C2, "addr", "add", lease["ip"]+"/24", "dev", "eth0"); err != nil {
		t.Fatal(err)
	}
	server := lease["ntpsrv"]
	b, err := tp.Cmd(tp.C2, "sntp", "-j", "-t", "5", server).Output()
	var res struct {
		Stratum int    `json:"stratum"`
		Leap    string `json:"leap"`
	}
	if err != nil || json.Unmarshal(b, &res) != nil || res.Stratum != ntp.SyncedStratum || res.Leap != "no-leap" {
		t.Errorf("sntp %s: %v: %s (want stratum %d, no-leap)", server, err, b, ntp.SyncedStratum)
	}
	b, err = tp.Cmd(tp.C2, "chronyd", "-Q", "-t", "20", "-u", "root", "pidfile "+filepath.Join(dir, "chronyd.pid"),
		"server "+server+" iburst minpoll -4 maxpoll -4", "cmdport 0", "port 0").CombinedOutput()
	if err != nil || !strings.Contains(string(b), "System clock wrong by") {
		t.Errorf("chronyd -Q %s: %v\n%s", server, err, b)
	}
}
