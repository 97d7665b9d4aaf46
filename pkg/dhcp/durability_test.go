package dhcp

import (
	"net/netip"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/cn2-appliance/cn2-appliance/pkg/store"
)

// TestSIGKILLKeepsLeases: dhclient gets leases, the server is SIGKILLed and
// restarted on the same state folder, and each dhclient, started again with
// its lease file, asks for its address back (INIT-REBOOT) and gets it
// (reason REBOOT, not a NAK and a new DISCOVER). A new client gets none of
// those addresses; the store holds them all, once each.
func TestSIGKILLKeepsLeases(t *testing.T) {
	tp := topo(t, "dhclient")
	dir := t.TempDir()
	srv := startServer(t, tp, netConfig(), dir)
	dhclient := clients[1]
	macs := []string{"02:00:00:00:dd:01", "02:00:00:00:dd:02", "02:00:00:00:dd:03", "52:54:00:00:00:22"}
	got := map[string]string{}
	for _, mac := range macs {
		if err := tp.SetMAC(tp.C1, mac); err != nil {
			t.Fatal(err)
		}
		cdir := filepath.Join(dir, mac)
		sc, out := hook(t, mkdir(t, cdir), "before")
		if err := dhclient.run(t, tp, tp.C1, cdir, sc); err != nil {
			t.Fatal(err)
		}
		if got[mac] = bound(t, out)["ip"]; got[mac] == "" {
			t.Fatalf("%s: no lease before the kill", mac)
		}
	}
	srv.kill()
	srv = startServer(t, tp, netConfig(), dir)
	for _, mac := range macs {
		if err := tp.SetMAC(tp.C1, mac); err != nil {
			t.Fatal(err)
		}
		cdir := filepath.Join(dir, mac)
		sc, out := hook(t, cdir, "after")
		if err := dhclient.run(t, tp, tp.C1, cdir, sc); err != nil {
			t.Fatal(err)
		}
		r := bound(t, out)
		if r["ip"] != got[mac] || r["reason"] != "REBOOT" {
			t.Errorf("%s after restart: %s %s, want REBOOT %s", mac, r["reason"], r["ip"], got[mac])
		}
	}
	if err := tp.SetMAC(tp.C1, "02:00:00:00:dd:09"); err != nil {
		t.Fatal(err)
	}
	sc, out := hook(t, mkdir(t, filepath.Join(dir, "new")), "new")
	if err := dhclient.run(t, tp, tp.C1, filepath.Join(dir, "new"), sc); err != nil {
		t.Fatal(err)
	}
	newIP := bound(t, out)["ip"]
	for mac, ip := range got {
		if ip == newIP {
			t.Errorf("new client got %s, still leased to %s", ip, mac)
		}
	}
	srv.stop(t)
	st, err := store.Open(filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for mac, ip := range got {
		l, ok, err := st.LeaseByIP("ctrl", netip.MustParseAddr(ip))
		if err != nil || !ok || l.MAC != mac {
			t.Errorf("store: %s = %+v, %v, %v; want %s", ip, l, ok, err, mac)
		}
	}
	checkStoreUnique(t, st)
}

// TestPerfdhcp runs perfdhcp (a relay: giaddr = its own address) at rate
// against the server; afterwards no address is in two leases and perfdhcp
// saw no address given twice.
func TestPerfdhcp(t *testing.T) {
	tp := topo(t, "perfdhcp")
	dir := t.TempDir()
	cfg := netConfig()
	cfg.Networks[0].Pool = [2]netip.Addr{a4("172.16.0.100"), a4("172.16.0.250")}
	srv := startServer(t, tp, cfg, dir)
	if err := tp.SetMAC(tp.C1, "02:00:00:00:ee:01"); err != nil {
		t.Fatal(err)
	}
	if err := run(tp.Cmd(tp.C1, "ip", "addr", "add", "172.16.0.10/24", "dev", "eth0")); err != nil {
		t.Fatal(err)
	}
	out, err := tp.Cmd(tp.C1, "perfdhcp", "-4", "-l", "eth0", "-r", "200", "-p", "3", "-R", "120", "-W", "1000000").CombinedOutput()
	if err != nil && !isExit(err, 3) { // 3: some exchanges incomplete
		t.Fatalf("perfdhcp: %v\n%s", err, out)
	}
	acks := perfStat(string(out), "REQUEST-ACK", "received packets")
	if acks <= 0 || perfStat(string(out), "DISCOVER-OFFER", "non unique addresses") != 0 || perfStat(string(out), "REQUEST-ACK", "non unique addresses") != 0 {
		t.Errorf("perfdhcp: %d ACKs, or non-unique addresses:\n%s", acks, out)
	}
	t.Logf("perfdhcp: %d DORA exchanges completed", acks)
	srv.stop(t)
	st, err := store.Open(filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if ls, _ := st.Leases("ctrl"); len(ls) == 0 || len(ls) > 120 {
		t.Errorf("%d leases stored for 120 perfdhcp clients", len(ls))
	}
	checkStoreUnique(t, st)
}

// perfStat returns the value of field in perfdhcp's "Statistics for: block"
// section (-1 if absent).
func perfStat(out, block, field string) int {
	re := regexp.MustCompile(`(?s)Statistics for: ` + block + `\*+\n(.*?)(\n\n|\*\*\*|$)`)
	m := re.FindStringSubmatch(out)
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
