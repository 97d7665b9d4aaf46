package config

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

func loadBase(t *testing.T) *Lab {
	t.Helper()
	lab, err := Load("testdata/valid/base.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return lab
}

func TestReservations(t *testing.T) {
	lab := loadBase(t)
	tests := []struct {
		network string
		want    int
		first   Reservation
	}{
		{"ctrl", 4, Reservation{Network: "ctrl", Node: "master-0", MAC: "52:54:00:00:00:11", IP: netip.MustParseAddr("172.16.0.11"), Hostname: "master-0"}},
		{"data", 4, Reservation{Network: "data", Node: "master-0", MAC: "52:54:00:00:01:11", IP: netip.MustParseAddr("10.16.0.11"), Hostname: "master-0"}},
		{"", 8, Reservation{Network: "ctrl", Node: "master-0", MAC: "52:54:00:00:00:11", IP: netip.MustParseAddr("172.16.0.11"), Hostname: "master-0"}},
		{"storage", 0, Reservation{}},
	}
	for _, tt := range tests {
		got := lab.Reservations(tt.network)
		if len(got) != tt.want {
			t.Errorf("Reservations(%q): %d, want %d", tt.network, len(got), tt.want)
			continue
		}
		if tt.want > 0 && got[0] != tt.first {
			t.Errorf("Reservations(%q)[0] = %+v, want %+v", tt.network, got[0], tt.first)
		}
	}
}

func TestNodeByMAC(t *testing.T) {
	lab := loadBase(t)
	for _, tt := range []struct {
		mac  MAC
		node string
		net  string
	}{
		{"52:54:00:00:00:13", "master-2", "ctrl"},
		{"52:54:00:00:01:14", "worker-0", "data"},
		{"52:54:00:00:99:99", "", ""},
	} {
		n, nic, ok := lab.NodeByMAC(tt.mac)
		if tt.node == "" {
			if ok {
				t.Errorf("NodeByMAC(%s) found %s", tt.mac, n.Name)
			}
			continue
		}
		if !ok || n.Name != tt.node || nic.Network != tt.net {
			t.Errorf("NodeByMAC(%s) = %v %v %v, want %s on %s", tt.mac, n, nic, ok, tt.node, tt.net)
		}
	}
}

func TestDNSZones(t *testing.T) {
	lab := loadBase(t)
	zones := lab.DNSZones()
	origins := []string{}
	for _, z := range zones {
		origins = append(origins, z.Origin)
		if z.NS != "ns.mycluster.contrail.lan." {
			t.Errorf("zone %s: NS %s", z.Origin, z.NS)
		}
	}
	if want := []string{"mycluster.contrail.lan.", "0.16.172.in-addr.arpa.", "0.16.10.in-addr.arpa."}; !slices.Equal(origins, want) {
		t.Fatalf("zones %v, want %v", origins, want)
	}
	has := func(z DNSZone, name, typ, value string) bool {
		return slices.Contains(z.Records, DNSRecord{Name: name, Type: typ, Value: value})
	}
	for _, tt := range []struct {
		zone             int
		name, typ, value string
	}{
		{0, "api.mycluster.contrail.lan.", RecordA, "172.16.0.100"},
		{0, "api-int.mycluster.contrail.lan.", RecordA, "172.16.0.100"},
		{0, "*.apps.mycluster.contrail.lan.", RecordA, "172.16.0.101"},
		{0, "ingress.mycluster.contrail.lan.", RecordA, "172.16.0.101"},
		{0, "ns.mycluster.contrail.lan.", RecordA, "172.16.0.1"},
		{0, "master-1.mycluster.contrail.lan.", RecordA, "172.16.0.12"},
		{0, "master-1.ctrl.mycluster.contrail.lan.", RecordA, "172.16.0.12"},
		{0, "master-1.data.mycluster.contrail.lan.", RecordA, "10.16.0.12"},
		{1, "12.0.16.172.in-addr.arpa.", RecordPTR, "master-1.mycluster.contrail.lan."},
		{1, "100.0.16.172.in-addr.arpa.", RecordPTR, "api.mycluster.contrail.lan."},
		{1, "101.0.16.172.in-addr.arpa.", RecordPTR, "ingress.mycluster.contrail.lan."},
		{1, "1.0.16.172.in-addr.arpa.", RecordPTR, "ns.mycluster.contrail.lan."},
		{2, "12.0.16.10.in-addr.arpa.", RecordPTR, "master-1.data.mycluster.contrail.lan."},
	} {
		if !has(zones[tt.zone], tt.name, tt.typ, tt.value) {
			t.Errorf("zone %s lacks %s %s %s", zones[tt.zone].Origin, tt.name, tt.typ, tt.value)
		}
	}
	// The installer's wildcard probe must not match: the only wildcard is *.apps.
	for _, z := range zones {
		for _, r := range z.Records {
			if r.Name[0] == '*' && r.Name != "*.apps.mycluster.contrail.lan." {
				t.Errorf("unexpected wildcard %s", r.Name)
			}
		}
	}
	// Every address has exactly one PTR.
	seen := map[string]bool{}
	for _, z := range zones[1:] {
		for _, r := range z.Records {
			if seen[r.Name] {
				t.Errorf("two PTRs for %s", r.Name)
			}
			seen[r.Name] = true
		}
	}
}

func TestReverseZone(t *testing.T) {
	for _, tt := range []struct{ prefix, want string }{
		{"172.16.0.0/24", "0.16.172.in-addr.arpa."},
		{"172.16.0.128/25", "0.16.172.in-addr.arpa."},
		{"10.16.0.0/16", "16.10.in-addr.arpa."},
		{"10.16.0.0/20", "16.10.in-addr.arpa."},
		{"10.0.0.0/8", "10.in-addr.arpa."},
		{"10.0.0.0/6", "8.in-addr.arpa."},
	} {
		if got := ReverseZone(netip.MustParsePrefix(tt.prefix)); got != tt.want {
			t.Errorf("ReverseZone(%s) = %s, want %s", tt.prefix, got, tt.want)
		}
	}
	if got := ReverseName(netip.MustParseAddr("172.16.0.11")); got != "11.0.16.172.in-addr.arpa." {
		t.Errorf("ReverseName = %s", got)
	}
}

func TestExpectedHostsAndBootPlan(t *testing.T) {
	lab := loadBase(t)
	hosts := lab.ExpectedHosts()
	if len(hosts) != 4 || hosts[0].Role != HostRoleMaster || hosts[3].Role != HostRoleWorker {
		t.Fatalf("hosts = %+v", hosts)
	}
	if !slices.Equal(hosts[3].Labels, DPDKLabels) || len(hosts[0].Labels) != 0 {
		t.Errorf("labels: worker %v, master %v", hosts[3].Labels, hosts[0].Labels)
	}
	if !slices.Equal(hosts[0].MACs, []MAC{"52:54:00:00:00:11", "52:54:00:00:01:11"}) {
		t.Errorf("MACs = %v", hosts[0].MACs)
	}
	plan := lab.BootPlan()
	var order []string
	for _, s := range plan {
		order = append(order, s.Node)
		if s.MAC == "" || s.Method != BootPXE {
			t.Errorf("boot step %+v", s)
		}
	}
	if want := []string{"master-0", "master-1", "master-2", "worker-0"}; !slices.Equal(order, want) {
		t.Errorf("boot order %v, want %v", order, want)
	}
	if plan[3].Wave != 2 || plan[0].Wave != 1 || plan[0].MAC != "52:54:00:00:00:11" {
		t.Errorf("plan = %+v", plan)
	}
}

func TestDefaults(t *testing.T) {
	lab := loadBase(t)
	c := lab.Cluster
	if c.HostPrefix != 23 || c.ClusterNetwork != DefaultClusterNetwork || c.ServiceNetwork != DefaultServiceNetwork {
		t.Errorf("cluster defaults: %+v", c)
	}
	if lab.AssistedInstaller.ImageType != "full-iso" || lab.DNS.Port != 53 || lab.DHCP.Port != 67 || lab.DHCP.LeaseTime != DefaultLeaseTime {
		t.Errorf("service defaults: %+v %+v %+v", lab.AssistedInstaller, lab.DNS, lab.DHCP)
	}
	if got := lab.AssistedInstaller.PowerParallelism; got != DefaultPowerParallelism {
		t.Errorf("assistedInstaller.powerParallelism = %d, want %d", got, DefaultPowerParallelism)
	}
	if b := lab.Nodes[1].BMC; b.Port != 16230 || b.CipherSuite != DefaultCipherSuite {
		t.Errorf("ipmi defaults: %+v", b)
	}
	for i, want := range []Duration{DefaultBMCTimeout, DefaultBMCTimeout, DefaultBMCTimeout, Duration(30 * time.Second)} {
		if got := lab.Nodes[i].BMC.Timeout; got != want {
			t.Errorf("nodes[%d].bmc.timeout = %s, want %s", i, got.D(), want.D())
		}
	}
	if lab.Status.Listen != DefaultStatusListen {
		t.Errorf("status listen %v", lab.Status.Listen)
	}
}

// TestBootMethods: which drivers boot a node by which method, and when the lab boots over the
// network (PXE options and TFTP): any node by PXE or by UEFI HTTP boot (its PXE fallback).
func TestBootMethods(t *testing.T) {
	for _, tc := range []struct {
		driver, method string
		want           bool
	}{
		{DriverIPMI, BootPXE, true}, {DriverRedfish, BootPXE, true}, {DriverLibvirt, BootPXE, true},
		{DriverRedfish, BootVirtualMedia, true}, {DriverLibvirt, BootVirtualMedia, true}, {DriverIPMI, BootVirtualMedia, false},
		{DriverRedfish, BootUEFIHTTP, true}, {DriverLibvirt, BootUEFIHTTP, false}, {DriverIPMI, BootUEFIHTTP, false},
		{DriverRedfish, "floppy", false},
	} {
		if got := DriverBoots(tc.driver, tc.method); got != tc.want {
			t.Errorf("DriverBoots(%s, %s) = %t, want %t", tc.driver, tc.method, got, tc.want)
		}
	}
	for _, tc := range []struct {
		methods []string
		want    bool
	}{
		{[]string{BootVirtualMedia, BootVirtualMedia}, false},
		{[]string{BootVirtualMedia, BootPXE}, true},
		{[]string{BootUEFIHTTP, BootVirtualMedia}, true},
	} {
		lab := &Lab{}
		for _, m := range tc.methods {
			lab.Nodes = append(lab.Nodes, Node{BootMethod: m})
		}
		if got := lab.NetworkBoot(); got != tc.want {
			t.Errorf("NetworkBoot with nodes booting by %v = %t, want %t", tc.methods, got, tc.want)
		}
	}
}
