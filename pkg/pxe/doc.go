// Package pxe boots lab nodes over the network. It owns:
//
//   - a read-only TFTP server (github.com/pin/tftp/v3) for the iPXE binaries (undionly.kpxe,
//     ipxe.efi, snponly.efi, ...) from one folder;
//   - the HTTP boot service: /boot.ipxe (chains to the per-MAC script), /autoexec.ipxe (the
//     same after DHCP: what iPXE fetches beside itself after UEFI HTTP boot), /boot/<mac>.ipxe
//     (the node's script, chosen by its boot profile), /artifacts/<name> (kernel, initrd, rootfs
//     from the boot cache), /iso/<name> (the discovery ISO, for Redfish virtual media and
//     libvirt), and the TFTP folder's files over HTTP for UEFI HTTP boot;
//   - boot profiles per MAC (discovery | disk), kept in the store so a restart keeps them; the
//     install flow drives them through the Profiles interface;
//   - the boot artifact cache, filled from a Source: the installer's iPXE script (download and
//     rewrite) or a discovery ISO (extract images/pxeboot/). It holds the files of one image,
//     named by an identity the caller gives (FillImage, Download); another identity drops
//     them all. Downloads resume a .part only with If-Range and the validator kept beside it.
//
// It does not import the lab model (pkg/config) or the other services: pkg/appliance translates
// the lab into a Config.
package pxe
