package appliance

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"

	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/pxe"
)

// BootCacheDir is the boot artifact cache inside the state folder.
const BootCacheDir = "boot-cache"

// DiscoveryISO is the discovery ISO's file name in the boot cache: served at /iso/discovery.iso
// for virtual media, and extracted into the cache at start when the cache is empty.
const DiscoveryISO = "discovery.iso"

// PXEConfig is the PXE service's configuration for a lab: HTTP boot on every lab network's
// address at boot.httpPort, TFTP (when a node boots by PXE or UEFI HTTP boot, see
// config.Lab.NetworkBoot) at boot.tftpPort from boot.tftpRoot, every
// node NIC's MAC, and the cache folder stateDir/boot-cache. TFTP and HTTP answer the lab
// networks (relays' giaddr networks are lab networks too), boot.allowFrom and loopback, like
// DNS recursion; the HTTP limits are boot's.
func PXEConfig(lab *config.Lab, stateDir string) pxe.Config {
	cacheDir := filepath.Join(stateDir, BootCacheDir)
	cfg := pxe.Config{
		TFTPRoot:              lab.Boot.TFTPRoot,
		CacheDir:              cacheDir,
		ISOFile:               filepath.Join(cacheDir, DiscoveryISO),
		Unknown:               pxe.UnknownExit,
		DiskBoot:              pxe.DiskBootAuto,
		AllowFrom:             slices.Clone(lab.Boot.AllowFrom),
		HTTPIdleTimeout:       lab.Boot.HTTPIdleTimeout.D(),
		HTTPMaxConns:          lab.Boot.HTTPMaxConnections,
		HTTPMaxConnsPerClient: lab.Boot.HTTPMaxConnectionsPerClient,
	}
	for _, n := range lab.Networks {
		cfg.AllowFrom = append(cfg.AllowFrom, n.CIDR)
		cfg.HTTPListen = append(cfg.HTTPListen, netip.AddrPortFrom(n.Address, uint16(lab.Boot.HTTPPort)))
		if lab.NetworkBoot() {
			cfg.TFTPListen = append(cfg.TFTPListen, netip.AddrPortFrom(n.Address, uint16(lab.Boot.TFTPPort)))
		}
	}
	for _, n := range lab.Nodes {
		node := pxe.Node{Name: n.Name}
		for _, nic := range n.NICs {
			node.MACs = append(node.MACs, nic.MAC.HardwareAddr())
		}
		cfg.Nodes = append(cfg.Nodes, node)
	}
	return cfg
}

// PXE is the network boot service: the install flow drives PXE().Profiles() and fills
// PXE().Cache().
func (a *Appliance) PXE() *pxe.Server { return a.pxe }

// fillBootCacheFromISO extracts a discovery ISO left in the cache folder when the cache is
// empty, so a lab can boot from an ISO it was given without the installer. Failures are
// logged, not fatal: the nodes wait in iPXE until the cache is filled.
func (a *Appliance) fillBootCacheFromISO(ctx context.Context) error {
	cache := a.pxe.Cache()
	if _, ok := cache.Manifest(); ok {
		return nil
	}
	iso := filepath.Join(cache.Dir(), DiscoveryISO)
	if _, err := os.Stat(iso); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	m, err := cache.Fill(ctx, &pxe.ISOSource{Path: iso})
	if err != nil {
		a.log.Error("appliance: boot cache from the discovery ISO", "err", err)
		return nil
	}
	a.event(slog.LevelInfo, "boot cache filled from "+m.Source)
	return nil
}
