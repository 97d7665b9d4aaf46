package e2e

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/pxe"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
)

// The marker the test's init prints on the serial console, with the kernel command line.
const pxeMarker = "CN2-PXE-E2E-BOOTED"

// TestPXEBootQEMU boots master-0 of the example lab as a diskless qemu VM (TCG, SeaBIOS and
// Debian's iPXE ROM) through `cn2-appliance serve`: its DHCP answers the iPXE client with the
// per-MAC script URL, HTTP serves the discovery script and the kernel and initramfs from the
// boot cache (extracted at start from a test ISO left in the cache folder), and the test's
// init prints a marker and powers off. Then, with serve stopped, the MAC's profile is set to
// disk in the store; after a restart a UEFI boot (OVMF's own PXE: DHCP, ipxe.efi over TFTP,
// then iPXE over HTTP) gets the local-disk script and loads no kernel.
func TestPXEBootQEMU(t *testing.T) {
	needRoot(t, "qemu-system-x86_64", "xorriso", "curl")
	kernels, _ := filepath.Glob("/boot/vmlinuz-*")
	if len(kernels) == 0 {
		t.Skip("needs a Debian kernel in /boot (linux-image-cloud-amd64); run scripts/install-test-deps.sh")
	}
	if _, err := os.Stat("/usr/share/ovmf/OVMF.fd"); err != nil {
		t.Skip("needs OVMF (/usr/share/ovmf/OVMF.fd); run scripts/install-test-deps.sh")
	}
	if _, err := os.Stat("/usr/lib/ipxe/undionly.kpxe"); err != nil {
		t.Skip("needs Debian's ipxe package (/usr/lib/ipxe); run scripts/install-test-deps.sh")
	}
	bin := binary(t)
	dir := t.TempDir()
	copyTree(t, "../../configs", dir)
	lab := filepath.Join(dir, "lab.example.yaml")
	b, err := os.ReadFile(lab)
	if err != nil {
		t.Fatal(err)
	}
	labText := strings.Replace(string(b), "forwarders: [192.0.2.53]", "forwarders: [127.0.0.1:5399]", 1)
	if err := os.WriteFile(lab, []byte(labText), 0o600); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	cacheDir := filepath.Join(state, "boot-cache")
	if err := os.MkdirAll(cacheDir, 0o700); err != nil {
		t.Fatal(err)
	}
	buildDiscoveryISO(t, kernels[len(kernels)-1], filepath.Join(dir, "iso"), filepath.Join(cacheDir, "discovery.iso"))

	top := newLabTopology(t, "ens4=172.16.0.1/24", "ens5=10.16.0.1/24")
	vmNS := top.clients["ens4"]
	vmNS.bridgeTap(t)
	startRA(t, top.server, "ens4", filepath.Join(dir, "ra.log"))

	serve := func() (*exec.Cmd, *syncBuffer, chan error) {
		var logs syncBuffer
		cmd := top.server.command(bin, "serve", "--no-install", "-c", lab, "--state-dir", state, "--log-level", "debug")
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			if t.Failed() {
				t.Logf("serve log:\n%s", logs.String())
			}
		})
		return cmd, &logs, done
	}
	stop := func(cmd *exec.Cmd, done chan error) {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not stop after SIGTERM")
		}
	}
	waitLog := func(logs *syncBuffer, done chan error, what string) {
		t.Helper()
		for range 600 {
			if strings.Contains(logs.String(), what) {
				return
			}
			select {
			case err := <-done:
				t.Fatalf("serve exited while waiting for %q: %v\n%s", what, err, logs.String())
			case <-time.After(100 * time.Millisecond):
			}
		}
		t.Fatalf("no %q in the serve log", what)
	}

	// Run 1: discovery.
	cmd, logs, done := serve()
	waitLog(logs, done, "boot cache filled from iso")
	waitLog(logs, done, "pxe: serving")
	// TFTP on the lab network, from the client side, with a real client.
	vmNS.sh(t, "ip", "addr", "add", "172.16.0.250/24", "dev", "br0")
	if out, err := vmNS.command("curl", "-sS", "-o", "/dev/null", "-w", "%{size_download}", "tftp://172.16.0.1/undionly.kpxe").CombinedOutput(); err != nil || string(out) != "74213" && !strings.HasPrefix(string(out), "7") {
		t.Errorf("curl tftp://172.16.0.1/undionly.kpxe from the lab network: %v %s", err, out)
	}
	vmNS.sh(t, "ip", "addr", "del", "172.16.0.250/24", "dev", "br0")

	serial := runVM(t, vmNS, filepath.Join(dir, "run1"), "52:54:00:00:00:11", pxeMarker)
	m := regexp.MustCompile(pxeMarker + ` cmdline=(.*)`).FindStringSubmatch(serial)
	if m == nil {
		t.Fatalf("no marker line in the serial console:\n%s", serial)
	}
	t.Logf("run1: %s", strings.TrimSpace(m[0]))
	for _, want := range []string{"coreos.live.rootfs_url=http://172.16.0.1:8080/artifacts/rootfs", "ignition.platform.id=metal", "console=ttyS0"} {
		if !strings.Contains(m[1], want) {
			t.Errorf("kernel command line %q lacks %q", m[1], want)
		}
	}
	l := logs.String()
	for _, want := range []string{`msg="pxe: boot script" service=pxe ip=172.16.0.11 mac=52:54:00:00:00:11 node=master-0 profile=discovery`, "path=/artifacts/kernel", "path=/artifacts/initrd"} {
		if !strings.Contains(l, want) {
			t.Errorf("serve log lacks %q", want)
		}
	}
	stop(cmd, done)

	// The appliance is stopped: flip the profile in its store, as the install flow does once the
	// image is written.
	st, err := store.Open(state)
	if err != nil {
		t.Fatal(err)
	}
	mac, _ := net.ParseMAC("52:54:00:00:00:11")
	if err := pxe.NewProfiles(st).SetProfile(mac, pxe.Disk, "e2e: image written"); err != nil {
		t.Fatal(err)
	}
	st.Close()

	// Run 2: disk, on UEFI firmware without an iPXE ROM (romfile=), so OVMF's own PXE client
	// fetches ipxe.efi over serve's TFTP. iPXE then gets the disk script and exits back to the
	// firmware; no kernel is fetched.
	cmd, logs, done = serve()
	waitLog(logs, done, "pxe: serving")
	serial = runVM(t, vmNS, filepath.Join(dir, "run2"), "52:54:00:00:00:11", "master-0 boots from its local disk",
		"-bios", "/usr/share/ovmf/OVMF.fd", "-device", "virtio-net-pci,netdev=n0,romfile=,mac=52:54:00:00:00:11")
	if !strings.Contains(logs.String(), `msg="pxe: tftp: sent" service=pxe ip=172.16.0.11 file=ipxe.efi`) {
		t.Errorf("run 2: the firmware did not fetch ipxe.efi over TFTP")
	}
	if strings.Contains(serial, pxeMarker) {
		t.Error("run 2 booted the discovery kernel")
	}
	l = logs.String()
	if !strings.Contains(l, "profile=disk") || strings.Contains(l, "/artifacts/") {
		t.Errorf("run 2: want a disk script and no artifact requests in the serve log:\n%s", l)
	}
	stop(cmd, done)
}

// bridgeTap turns the namespace's eth0 into a bridge port, with tap0 (for qemu) on br0.
func (n *netns) bridgeTap(t *testing.T) {
	t.Helper()
	n.sh(t, "ip", "link", "add", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "0")
	n.sh(t, "ip", "link", "set", "eth0", "master", "br0")
	n.sh(t, "ip", "tuntap", "add", "dev", "tap0", "mode", "tap")
	n.sh(t, "ip", "link", "set", "tap0", "master", "br0")
	n.sh(t, "ip", "link", "set", "tap0", "up")
	n.sh(t, "ip", "link", "set", "br0", "up")
}

// startRA sends IPv6 router advertisements on iface (dnsmasq, RA only): without one iPXE
// waits ~13 s for IPv6 autoconfiguration. Without dnsmasq the boot is only slower.
func startRA(t *testing.T, n *netns, iface, logFile string) {
	t.Helper()
	if _, err := exec.LookPath("dnsmasq"); err != nil {
		t.Log("no dnsmasq: no IPv6 RA on the link, iPXE will wait ~13 s for IPv6")
		return
	}
	n.sh(t, "ip", "addr", "add", "fd16:a::1/64", "dev", iface, "nodad")
	f, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := n.command("dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0", "--interface="+iface,
		"--bind-interfaces", "--enable-ra", "--dhcp-range=::,constructor:"+iface+",ra-only", "--pid-file=",
		"--dhcp-leasefile="+logFile+".leases", "--log-facility=-")
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); f.Close() })
}

// runVM network-boots a diskless VM (BIOS unless extra says otherwise) until its serial console shows marker, then kills it.
// It returns the decoded console.
// extra replaces the NIC (and may add firmware) when given.
func runVM(t *testing.T, n *netns, prefix, mac, marker string, extra ...string) string {
	t.Helper()
	serialFile := prefix + ".serial"
	if extra == nil {
		extra = []string{"-device", "virtio-net-pci,netdev=n0,mac=" + mac}
	}
	args := append([]string{"-accel", "tcg", "-machine", "pc,graphics=off", "-m", "512",
		"-nodefaults", "-display", "none", "-vga", "none", "-serial", "file:" + serialFile, "-monitor", "none",
		"-no-reboot", "-boot", "n", "-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no"}, extra...)
	cmd := n.command("qemu-system-x86_64", args...)
	var qerr syncBuffer
	cmd.Stderr = &qerr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	defer func() {
		_ = cmd.Process.Kill()
		<-exited
	}()
	start := time.Now()
	for {
		raw, _ := os.ReadFile(serialFile)
		text := decodeConsole(raw)
		if strings.Contains(text, marker) {
			t.Logf("%s: %q on the console after %.1f s", filepath.Base(prefix), marker, time.Since(start).Seconds())
			return text
		}
		select {
		case <-exited:
			raw, _ = os.ReadFile(serialFile)
			text = decodeConsole(raw)
			if strings.Contains(text, marker) {
				t.Logf("%s: %q on the console, qemu exited after %.1f s", filepath.Base(prefix), marker, time.Since(start).Seconds())
				return text
			}
			t.Fatalf("qemu exited before %q: %s\nconsole:\n%s", marker, qerr.String(), text)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Since(start) > 5*time.Minute {
			t.Fatalf("no %q on the console after 5 minutes:\n%s", marker, text)
		}
	}
}

var escRe = regexp.MustCompile(`\x1b(?:\[[?=]?(\d*)(?:;(\d*))*([A-Za-z])|[c=>78])`)

// decodeConsole turns SeaBIOS/iPXE's cursor-addressed VT100 output (one ESC[row;colH per
// character with graphics=off) into lines: a new row starts a new line.
func decodeConsole(raw []byte) string {
	var out strings.Builder
	row := ""
	last := 0
	for _, m := range escRe.FindAllSubmatchIndex(raw, -1) {
		out.Write(raw[last:m[0]])
		last = m[1]
		if m[6] >= 0 && raw[m[6]] == 'H' {
			r := ""
			if m[2] >= 0 {
				r = string(raw[m[2]:m[3]])
			}
			if r != row {
				out.WriteByte('\n')
				row = r
			}
		}
	}
	out.Write(raw[last:])
	return strings.ReplaceAll(out.String(), "\r", "")
}

// buildDiscoveryISO writes an ISO with the discovery layout: the host's Debian kernel as
// images/pxeboot/vmlinuz, an initramfs whose init prints the marker and powers off, a dummy
// rootfs, and a grub.cfg with the kernel arguments.
func buildDiscoveryISO(t *testing.T, kernel, tree, iso string) {
	t.Helper()
	pxeboot := filepath.Join(tree, "images", "pxeboot")
	grub := filepath.Join(tree, "EFI", "redhat")
	for _, d := range []string{pxeboot, grub} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	k, err := os.ReadFile(kernel)
	if err != nil {
		t.Fatal(err)
	}
	write := func(p string, b []byte) {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(pxeboot, "vmlinuz"), k)
	write(filepath.Join(pxeboot, "initrd.img"), markerInitramfs(t))
	write(filepath.Join(pxeboot, "rootfs.img"), bytes.Repeat([]byte{0}, 4096))
	write(filepath.Join(grub, "grub.cfg"), []byte("menuentry 'discovery' {\n\tlinux /images/pxeboot/vmlinuz coreos.liveiso=e2e ignition.firstboot ignition.platform.id=metal console=ttyS0 panic=-1\n\tinitrd /images/pxeboot/initrd.img\n}\n"))
	if out, err := exec.Command("xorriso", "-as", "mkisofs", "-R", "-J", "-V", "e2e", "-o", iso, tree).CombinedOutput(); err != nil {
		t.Fatalf("xorriso: %v\n%s", err, out)
	}
}

// markerInitramfs is a newc cpio with the host's busybox and its libraries, /dev/console,
// and an /init that prints the marker with the kernel command line and powers off.
func markerInitramfs(t *testing.T) []byte {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("needs busybox; run scripts/install-test-deps.sh")
	}
	var c cpioWriter
	for _, d := range []string{"bin", "dev", "proc", "sys", "lib", "lib64", "lib/x86_64-linux-gnu"} {
		c.add(d, 0o40755, nil, 0)
	}
	c.add("dev/console", 0o20600, nil, 5<<8|1)
	c.add("dev/ttyS0", 0o20600, nil, 4<<8|64)
	files := []string{bb}
	if out, err := exec.Command("ldd", bb).Output(); err == nil { // a static busybox has none
		files = append(files, regexp.MustCompile(`(/\S+\.so[.\d]*)`).FindAllString(string(out), -1)...)
	}
	for _, f := range files {
		real, err := filepath.EvalSymlinks(f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(real)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(f, "/")
		if f == bb {
			name = "bin/busybox"
		}
		c.add(name, 0o100755, b, 0)
	}
	init := "#!/bin/busybox sh\n" +
		"/bin/busybox mount -t proc proc /proc\n" +
		"echo \"" + pxeMarker + " cmdline=$(/bin/busybox cat /proc/cmdline)\" > /dev/ttyS0\n" +
		"/bin/busybox poweroff -f\n"
	c.add("init", 0o100755, []byte(init), 0)
	return c.finish()
}

// cpioWriter writes the newc format the kernel unpacks.
type cpioWriter struct {
	buf bytes.Buffer
	ino uint32
}

func (c *cpioWriter) add(name string, mode uint32, data []byte, rdev uint32) {
	c.ino++
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev>>8, rdev&0xff, len(name)+1, 0)
	c.buf.WriteString(hdr)
	c.buf.WriteString(name)
	c.buf.WriteByte(0)
	c.pad()
	c.buf.Write(data)
	c.pad()
}

func (c *cpioWriter) pad() {
	for c.buf.Len()%4 != 0 {
		c.buf.WriteByte(0)
	}
}

func (c *cpioWriter) finish() []byte {
	c.add("TRAILER!!!", 0, nil, 0)
	return c.buf.Bytes()
}
