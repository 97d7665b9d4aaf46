package appliance

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/pxe"
)

func TestPXEConfig(t *testing.T) {
	lab := exampleLab(t)
	cfg := PXEConfig(lab, "/var/lib/cn2-appliance")
	if want := []netip.AddrPort{netip.MustParseAddrPort("172.16.0.1:8080"), netip.MustParseAddrPort("10.16.0.1:8080")}; !slices.Equal(cfg.HTTPListen, want) {
		t.Errorf("http %v, want %v", cfg.HTTPListen, want)
	}
	if want := []netip.AddrPort{netip.MustParseAddrPort("172.16.0.1:69"), netip.MustParseAddrPort("10.16.0.1:69")}; !slices.Equal(cfg.TFTPListen, want) {
		t.Errorf("tftp %v, want %v", cfg.TFTPListen, want)
	}
	if cfg.TFTPRoot != "/usr/lib/ipxe" || cfg.CacheDir != "/var/lib/cn2-appliance/boot-cache" || cfg.ISOFile != "/var/lib/cn2-appliance/boot-cache/discovery.iso" {
		t.Errorf("folders %q %q %q", cfg.TFTPRoot, cfg.CacheDir, cfg.ISOFile)
	}
	if len(cfg.Nodes) != len(lab.Nodes) || cfg.Nodes[0].Name != "master-0" || cfg.Nodes[0].MACs[0].String() != "52:54:00:00:00:11" {
		t.Errorf("nodes %+v", cfg.Nodes)
	}
	// TFTP and HTTP boot answer the lab networks (and loopback, which pxe always allows).
	if want := []netip.Prefix{netip.MustParsePrefix("172.16.0.0/24"), netip.MustParsePrefix("10.16.0.0/24")}; !slices.Equal(cfg.AllowFrom, want) {
		t.Errorf("allowFrom %v, want the lab networks %v", cfg.AllowFrom, want)
	}
	if cfg.HTTPIdleTimeout != 2*time.Minute || cfg.HTTPMaxConnsPerClient != 32 || cfg.HTTPMaxConns != 0 {
		t.Errorf("http limits: idle %v, per client %d, total %d", cfg.HTTPIdleTimeout, cfg.HTTPMaxConnsPerClient, cfg.HTTPMaxConns)
	}
	extra := netip.MustParsePrefix("192.168.50.0/24")
	lab.Boot.AllowFrom = []netip.Prefix{extra}
	if got := PXEConfig(lab, "/x").AllowFrom; len(got) != 3 || got[0] != extra {
		t.Errorf("allowFrom with boot.allowFrom: %v", got)
	}
	lab.Boot.AllowFrom = nil
	// The translated config must be one the PXE server accepts.
	cfg.CacheDir = t.TempDir()
	if _, err := pxe.New(cfg, nil, nil, nil); err != nil {
		t.Errorf("pxe.New: %v", err)
	}
	// Virtual media: HTTP (the ISO) but no TFTP; one node by PXE or UEFI HTTP boot (whose
	// fallback is PXE) needs TFTP again.
	lab.Boot.Method = config.BootVirtualMedia
	for i := range lab.Nodes {
		lab.Nodes[i].BootMethod = config.BootVirtualMedia
	}
	if cfg := PXEConfig(lab, "/x"); len(cfg.TFTPListen) != 0 || len(cfg.HTTPListen) != 2 {
		t.Errorf("virtual media: tftp %v http %v", cfg.TFTPListen, cfg.HTTPListen)
	}
	for _, m := range []string{config.BootPXE, config.BootUEFIHTTP} {
		lab.Nodes[0].BootMethod = m
		if cfg := PXEConfig(lab, "/x"); len(cfg.TFTPListen) != 2 {
			t.Errorf("virtual media but one node by %s: tftp %v", m, cfg.TFTPListen)
		}
	}
}
