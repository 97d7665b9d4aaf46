package appliance

import (
	"github.com/cn2-appliance/cn2-appliance/internal/testlab"
	"net/netip"
	"slices"
	"testing"

	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/dns"
	"github.com/cn2-appliance/cn2-appliance/pkg/ntp"
)

func exampleLab(t *testing.T) *config.Lab { return testlab.Example(t) }

func TestDNSConfig(t *testing.T) {
	cfg := DNSConfig(exampleLab(t))
	for _, name := range []string{"api", "api-int", "ns", "ingress", "apps", "validateNoWildcardDNS", "master-0", "worker-1", "ctrl", "data"} {
		if !slices.Contains(cfg.ReservedNames, name) {
			t.Errorf("reserved names %v lack %s", cfg.ReservedNames, name)
		}
	}
	wantListen := []netip.AddrPort{
		netip.MustParseAddrPort("172.16.0.1:53"), netip.MustParseAddrPort("10.16.0.1:53"), netip.MustParseAddrPort("127.0.0.1:53"),
	}
	if !slices.Equal(cfg.Listen, wantListen) {
		t.Errorf("listen %v, want %v", cfg.Listen, wantListen)
	}
	if !slices.Equal(cfg.Forwarders, []netip.AddrPort{netip.MustParseAddrPort("192.0.2.53:53")}) {
		t.Errorf("forwarders %v", cfg.Forwarders)
	}
	if !slices.Equal(cfg.RecursionFrom, []netip.Prefix{netip.MustParsePrefix("172.16.0.0/24"), netip.MustParsePrefix("10.16.0.0/24")}) {
		t.Errorf("recursion from %v", cfg.RecursionFrom)
	}
	if cfg.TTL != 300 || cfg.DynamicZone != "mycluster.contrail.lan." || len(cfg.Zones) != 3 {
		t.Errorf("ttl %d, dynamic zone %q, %d zones", cfg.TTL, cfg.DynamicZone, len(cfg.Zones))
	}
	for _, z := range cfg.Zones {
		for _, r := range z.Records {
			if r.Type != dns.TypeA && r.Type != dns.TypePTR {
				t.Errorf("record %s has type %d", r.Name, r.Type)
			}
		}
	}
	// The translated config must be one the DNS server accepts.
	if _, err := dns.New(cfg, nil, nil); err != nil {
		t.Errorf("dns.New: %v", err)
	}
}

func TestDHCPConfig(t *testing.T) {
	cfg := DHCPConfig(exampleLab(t))
	if len(cfg.Networks) != 2 || cfg.Port != 67 || cfg.LeaseTime.String() != "1h0m0s" {
		t.Fatalf("config %+v", cfg)
	}
	ctrl, data := cfg.Networks[0], cfg.Networks[1]
	if ctrl.Interface != "ens4" || ctrl.Router != netip.MustParseAddr("172.16.0.254") || !ctrl.ServeUnknown ||
		ctrl.Pool != [2]netip.Addr{netip.MustParseAddr("172.16.0.50"), netip.MustParseAddr("172.16.0.99")} {
		t.Errorf("ctrl = %+v", ctrl)
	}
	if data.Router.IsValid() || data.ServeUnknown || data.Boot != nil {
		t.Errorf("data must have no router, no pool clients and no netboot: %+v", data)
	}
	if ctrl.Boot == nil || ctrl.Boot.HTTPBase != "http://172.16.0.1:8080" || ctrl.Boot.BIOSFile != "undionly.kpxe" || !ctrl.Boot.KnownOnly {
		t.Errorf("ctrl boot = %+v", ctrl.Boot)
	}
	if len(ctrl.Reservations) != 5 || ctrl.Reservations[0].MAC.String() != "52:54:00:00:00:11" || ctrl.Reservations[0].Hostname != "master-0" {
		t.Errorf("ctrl reservations = %+v", ctrl.Reservations)
	}
	if ctrl.Domain != "mycluster.contrail.lan" || !slices.Equal(ctrl.DNSServers, []netip.Addr{netip.MustParseAddr("172.16.0.1")}) {
		t.Errorf("options: %+v / %+v", ctrl, data)
	}
	// Each network is handed the appliance's own address on it as its NTP server.
	if !slices.Equal(ctrl.NTPServers, []netip.Addr{netip.MustParseAddr("172.16.0.1")}) ||
		!slices.Equal(data.NTPServers, []netip.Addr{netip.MustParseAddr("10.16.0.1")}) {
		t.Errorf("NTP servers: ctrl %v, data %v", ctrl.NTPServers, data.NTPServers)
	}
}

func TestNTPConfig(t *testing.T) {
	lab := exampleLab(t)
	cfg := NTPConfig(lab)
	want := []netip.AddrPort{netip.MustParseAddrPort("172.16.0.1:123"), netip.MustParseAddrPort("10.16.0.1:123")}
	if !slices.Equal(cfg.Listen, want) || cfg.LocalStratum != 0 {
		t.Errorf("ntp config %+v, want listeners %v", cfg, want)
	}
	off := *lab
	serve := false
	off.NTP.Serve = &serve
	off.NTP.LocalStratum = 0
	if cfg := NTPConfig(&off); len(cfg.Listen) != 0 {
		t.Errorf("ntp.serve false still listens on %v", cfg.Listen)
	}
	if _, err := ntp.New(cfg, nil, nil, nil); err != nil {
		t.Errorf("ntp.New: %v", err)
	}
}
