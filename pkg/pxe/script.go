package pxe

import (
	"fmt"
	"strings"
)

// chainScript is /boot.ipxe: it asks for the script of the NIC that booted. ${net0/mac:hexhyp}
// is the first NIC's MAC in the 52-54-00-00-00-11 form the DHCP server hands out too.
func chainScript(base string) string {
	return "#!ipxe\n" +
		"chain " + base + "/boot/${net0/mac:hexhyp}.ipxe || exit\n"
}

// autoexecScript is /autoexec.ipxe, which iPXE's EFI build fetches from beside its own URI
// when UEFI HTTP boot started it (the BMC set the URI, so DHCP handed out no boot file): it
// takes an address and chains to the NIC's script, as /boot.ipxe does after a PXE boot.
func autoexecScript(base string) string {
	return "#!ipxe\n" +
		"dhcp || exit\n" +
		"chain " + base + "/boot/${net0/mac:hexhyp}.ipxe || exit\n"
}

// discoveryScript boots the cached discovery image with the installer's kernel arguments;
// the initrd and rootfs URLs point at the appliance.
func discoveryScript(base, node string, m Manifest, extra []string) string {
	var b strings.Builder
	b.WriteString("#!ipxe\n")
	fmt.Fprintf(&b, "echo cn2-appliance: %s boots the discovery image\n", node)
	names := make([]string, len(m.Initrds))
	for i, a := range m.Initrds {
		names[i] = a.Name
		fmt.Fprintf(&b, "initrd --name %s %s/artifacts/%s\n", a.Name, base, a.Name)
	}
	args := []string{"initrd=" + strings.Join(names, ","), "coreos.live.rootfs_url=" + base + "/artifacts/" + m.Rootfs.Name}
	args = append(args, m.KernelArgs...)
	args = append(args, extra...)
	fmt.Fprintf(&b, "kernel %s/artifacts/%s %s\n", base, m.Kernel.Name, strings.Join(args, " "))
	b.WriteString("boot\n")
	return b.String()
}

// diskScript boots the local disk; see DiskBoot for what each choice does per firmware.
func diskScript(node string, how DiskBoot) string {
	var b strings.Builder
	b.WriteString("#!ipxe\n")
	fmt.Fprintf(&b, "echo cn2-appliance: %s boots from its local disk\n", node)
	switch how {
	case DiskBootSanboot:
		b.WriteString("sanboot --no-describe --drive 0x80 ||\n")
	case DiskBootAuto:
		b.WriteString("iseq ${platform} pcbios && sanboot --no-describe --drive 0x80 ||\n")
	}
	b.WriteString("exit\n")
	return b.String()
}

// waitScript says why and asks again later: for unknown MACs with UnknownRetry, and for lab
// nodes while the boot cache is empty.
func waitScript(self, why string, seconds int) string {
	return fmt.Sprintf("#!ipxe\necho cn2-appliance: %s; asking again in %d s\nsleep %d\nchain %s || exit\n", why, seconds, seconds, self)
}

// exitScript says why and hands back to the firmware.
func exitScript(why string) string {
	return fmt.Sprintf("#!ipxe\necho cn2-appliance: %s\nexit\n", why)
}
