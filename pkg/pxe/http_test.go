package pxe

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeSource writes fixed artifacts.
type fakeSource struct{ args []string }

func (fakeSource) String() string { return "fake" }

func (f fakeSource) Fetch(_ context.Context, dir string, _ *Manifest) (Manifest, error) {
	m := Manifest{KernelArgs: f.args}
	for _, a := range []struct{ name, body string }{{"kernel", "KERNEL"}, {"initrd", "INITRD"}, {"initrd-2", "IGN"}, {"rootfs", "ROOTFS"}} {
		if err := writeFileAtomic(filepath.Join(dir, a.name), []byte(a.body)); err != nil {
			return m, err
		}
		art := Artifact{Name: a.name, Size: int64(len(a.body))}
		switch a.name {
		case "kernel":
			m.Kernel = art
		case "rootfs":
			m.Rootfs = art
		default:
			m.Initrds = append(m.Initrds, art)
		}
	}
	return m, nil
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var (
	mac1 = net.HardwareAddr{0x52, 0x54, 0, 0, 0, 0x11}
	mac2 = net.HardwareAddr{0x52, 0x54, 0, 0, 1, 0x11}
)

// TestHTTPScripts walks a node through its profiles and checks unknown MACs.
func TestHTTPScripts(t *testing.T) {
	cfg := Config{
		Nodes:           []Node{{Name: "master-0", MACs: []net.HardwareAddr{mac1, mac2}}},
		ExtraKernelArgs: []string{"console=ttyS0"},
		RetryAfter:      7 * time.Second,
	}
	s, _, port := startServer(t, cfg)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)

	if code, body := get(t, base+"/boot.ipxe"); code != 200 || body != "#!ipxe\nchain "+base+"/boot/${net0/mac:hexhyp}.ipxe || exit\n" {
		t.Errorf("/boot.ipxe = %d %q", code, body)
	}
	// UEFI HTTP boot: iPXE fetches autoexec.ipxe from beside ipxe.efi, with no address yet.
	if code, body := get(t, base+"/autoexec.ipxe"); code != 200 || body != "#!ipxe\ndhcp || exit\nchain "+base+"/boot/${net0/mac:hexhyp}.ipxe || exit\n" {
		t.Errorf("/autoexec.ipxe = %d %q", code, body)
	}
	// Empty cache: the node is told to wait and ask again.
	if _, body := get(t, base+"/boot/52-54-00-00-00-11.ipxe"); !strings.Contains(body, "sleep 7\nchain "+base+"/boot/52-54-00-00-00-11.ipxe") {
		t.Errorf("empty cache script:\n%s", body)
	}
	if _, err := s.Cache().Fill(context.Background(), fakeSource{args: []string{"ignition.firstboot", "ignition.platform.id=metal"}}); err != nil {
		t.Fatal(err)
	}
	want := "#!ipxe\n" +
		"echo cn2-appliance: master-0 boots the discovery image\n" +
		"initrd --name initrd " + base + "/artifacts/initrd\n" +
		"initrd --name initrd-2 " + base + "/artifacts/initrd-2\n" +
		"kernel " + base + "/artifacts/kernel initrd=initrd,initrd-2 coreos.live.rootfs_url=" + base + "/artifacts/rootfs ignition.firstboot ignition.platform.id=metal console=ttyS0\n" +
		"boot\n"
	for _, p := range []string{"/boot/52-54-00-00-00-11.ipxe", "/boot/52:54:00:00:01:11.ipxe", "/boot/52-54-00-00-00-11.ipxe"} {
		if code, body := get(t, base+p); code != 200 || body != want {
			t.Errorf("%s = %d\n%s\nwant\n%s", p, code, body, want)
		}
	}
	for name, body := range map[string]string{"kernel": "KERNEL", "initrd": "INITRD", "initrd-2": "IGN", "rootfs": "ROOTFS"} {
		if code, got := get(t, base+"/artifacts/"+name); code != 200 || got != body {
			t.Errorf("/artifacts/%s = %d %q", name, code, got)
		}
	}
	if code, _ := get(t, base+"/artifacts/manifest.json"); code != 404 {
		t.Errorf("manifest.json is served: %d", code)
	}
	if got := counter(s.m.httpRequests.WithLabelValues("master-0", "artifact")); got != 4 {
		t.Errorf("artifact requests of master-0 = %v, want 4", got)
	}
	if got := counter(s.m.httpBytes.WithLabelValues("kernel")); got != 6 {
		t.Errorf("kernel bytes = %v", got)
	}

	// Disk, then discovery again (a reset).
	if err := s.Profiles().SetProfile(mac1, Disk, "image written"); err != nil {
		t.Fatal(err)
	}
	wantDisk := "#!ipxe\necho cn2-appliance: master-0 boots from its local disk\niseq ${platform} pcbios && sanboot --no-describe --drive 0x80 ||\nexit\n"
	if _, body := get(t, base+"/boot/52-54-00-00-00-11.ipxe"); body != wantDisk {
		t.Errorf("disk script:\n%s", body)
	}
	if _, body := get(t, base+"/boot/52-54-00-00-01-11.ipxe"); body != want {
		t.Errorf("the node's other NIC keeps its own profile:\n%s", body)
	}
	if err := s.Profiles().SetProfile(mac1, Discovery, "reset"); err != nil {
		t.Fatal(err)
	}
	if _, body := get(t, base+"/boot/52-54-00-00-00-11.ipxe"); body != want {
		t.Errorf("after a reset:\n%s", body)
	}

	// Unknown MACs: exit by default; retry after a reload.
	if _, body := get(t, base+"/boot/02-00-00-00-00-01.ipxe"); body != "#!ipxe\necho cn2-appliance: this MAC is not in the lab\nexit\n" {
		t.Errorf("unknown MAC:\n%s", body)
	}
	cfg2 := cfg
	cfg2.Unknown, cfg2.DiskBoot = UnknownRetry, DiskBootExit
	cfg2.HTTPListen, cfg2.CacheDir = s.cfg.Load().HTTPListen, s.cache.Dir()
	if err := s.Reload(cfg2); err != nil {
		t.Fatal(err)
	}
	if _, body := get(t, base+"/boot/02-00-00-00-00-01.ipxe"); !strings.Contains(body, "sleep 7\nchain "+base+"/boot/02-00-00-00-00-01.ipxe") {
		t.Errorf("unknown MAC with retry:\n%s", body)
	}
	if got := counter(s.m.httpRequests.WithLabelValues("unknown", "script")); got != 2 {
		t.Errorf("unknown script requests = %v", got)
	}
	for _, p := range []string{"/boot/zz.ipxe", "/../../etc/passwd", "/artifacts/x/../../y", "/iso/nope.iso"} {
		if code, _ := get(t, base+p); code != 404 {
			t.Errorf("%s = %d, want 404", p, code)
		}
	}
	resp, err := http.Post(base+"/boot.ipxe", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST = %d", resp.StatusCode)
	}
}

// TestHTTPRangeCurl serves an ISO and an iPXE binary and reads them with curl, whole and in
// ranges, as BMCs that read virtual media in chunks do.
func TestHTTPRangeCurl(t *testing.T) {
	needTool(t, "curl")
	dir := t.TempDir()
	iso := filepath.Join(dir, "discovery.iso")
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	writeFile(t, iso, data)
	root, _ := tftpRoot(t)
	_, _, port := startServer(t, Config{ISOFile: iso, TFTPRoot: root})
	url := fmt.Sprintf("http://127.0.0.1:%d/iso/discovery.iso", port)
	out := filepath.Join(dir, "out")
	for _, r := range []struct {
		rng        string
		start, end int
	}{{"0-99", 0, 99}, {"1000-", 1000, len(data) - 1}, {"-10", len(data) - 10, len(data) - 1}, {"524288-589823", 524288, 589823}} {
		hdr, err := exec.Command("curl", "-sS", "-D", "-", "-o", out, "-r", r.rng, url).Output()
		if err != nil {
			t.Fatalf("curl -r %s: %v", r.rng, err)
		}
		got, _ := os.ReadFile(out)
		h := string(hdr)
		wantCR := fmt.Sprintf("Content-Range: bytes %d-%d/%d", r.start, r.end, len(data))
		if !strings.HasPrefix(h, "HTTP/1.1 206") || !strings.Contains(h, wantCR) || !strings.Contains(h, fmt.Sprintf("Content-Length: %d", r.end-r.start+1)) || string(got) != string(data[r.start:r.end+1]) {
			t.Errorf("curl -r %s: %d bytes, headers:\n%s", r.rng, len(got), h)
		}
	}
	hdr, err := exec.Command("curl", "-sS", "-I", url).Output()
	if err != nil || !strings.Contains(string(hdr), fmt.Sprintf("Content-Length: %d", len(data))) || !strings.Contains(string(hdr), "Accept-Ranges: bytes") {
		t.Errorf("curl -I: %v\n%s", err, hdr)
	}
	if b, err := exec.Command("curl", "-sS", "-o", out, "-w", "%{http_code} %{size_download}", url).Output(); err != nil || string(b) != fmt.Sprintf("200 %d", len(data)) {
		t.Errorf("whole ISO: %v %s", err, b)
	}
	// UEFI HTTP boot fetches the iPXE binary from the same folder as TFTP.
	if b, err := exec.Command("curl", "-sS", fmt.Sprintf("http://127.0.0.1:%d/ipxe.efi", port)).Output(); err != nil || string(b) != "linked ipxe.efi" {
		t.Errorf("/ipxe.efi: %v %q", err, b)
	}
}
