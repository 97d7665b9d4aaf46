package flow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/cn2-appliance/cn2-appliance/pkg/bmc"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
)

// HTTPBootFile is the iPXE binary a node booting by UEFI HTTP boot fetches from the appliance
// (from boot.tftpRoot, served over HTTP too); iPXE then fetches autoexec.ipxe beside it.
const HTTPBootFile = "ipxe.efi"

// HTTPBootURI is the appliance's HTTP URL of the iPXE binary on the machine network: the
// HTTP boot URI the BMC of a uefi-http node is given.
func HTTPBootURI(lab *config.Lab) string {
	mn := lab.MachineNetwork()
	if mn == nil {
		return ""
	}
	return fmt.Sprintf("http://%s/%s", netip.AddrPortFrom(mn.Address, uint16(lab.Boot.HTTPPort)), HTTPBootFile)
}

// setDiscoveryDevice sets the device a node boots the discovery image from, by its boot
// method: the discovery ISO attached as its virtual CD; UEFI HTTP boot from the appliance's
// ipxe.efi (PXE where the BMC answers that it cannot, said once per node in an event); or PXE.
func (f *Flow) setDiscoveryDevice(ctx context.Context, n config.Node, p Power) error {
	switch n.BootMethod {
	case config.BootVirtualMedia:
		if err := p.InsertMedia(ctx, f.State().ISOURL); err != nil {
			return err
		}
		return p.SetBootDevice(ctx, bmc.BootOptions{Device: bmc.BootCD})
	case config.BootUEFIHTTP:
		uri := HTTPBootURI(f.d.Lab)
		err := p.SetBootDevice(ctx, bmc.BootOptions{Device: bmc.BootHTTP, HTTPBootURI: uri})
		if !errors.Is(err, bmc.ErrNotSupported) {
			return err
		}
		if _, said := f.httpFallback.LoadOrStore(n.Name, true); !said {
			f.event(slog.LevelWarn, n.Name, fmt.Sprintf("UEFI HTTP boot from %s is not supported by its BMC (%v): booting it by PXE instead", uri, err))
		}
	}
	return p.SetBootDevice(ctx, bmc.BootOptions{Device: bmc.BootPXE})
}

// bootsOverNetwork says whether any of nodes boots the discovery kernel, initrd and rootfs
// the appliance caches: by PXE, or by UEFI HTTP boot (its iPXE script is the PXE one).
func bootsOverNetwork(nodes []config.Node) bool {
	return bootBy(nodes, config.BootPXE) || bootBy(nodes, config.BootUEFIHTTP)
}
