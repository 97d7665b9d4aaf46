package pxe

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// installerServer serves an installer-like iPXE script and its artifacts, each with an ETag
// of its content. The first GET of the rootfs is cut after half its bytes (the download must
// resume with a Range request validated by If-Range).
type installerServer struct {
	*httptest.Server
	mu       sync.Mutex
	requests []string // "GET /path range"
	files    map[string][]byte
	cut      bool
}

func newInstallerServer(t *testing.T) *installerServer {
	s := &installerServer{files: map[string][]byte{
		"/boot-artifacts/kernel": bytes.Repeat([]byte("K"), 100000),
		"/boot-artifacts/rootfs": bytes.Repeat([]byte("R"), 300000),
		"/images/ie1/pxe-initrd": bytes.Repeat([]byte("I"), 50000),
	}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, strings.TrimSpace(r.URL.Path+" "+r.Header.Get("Range")+" "+r.Header.Get("If-Range")))
		first := r.URL.Path == "/boot-artifacts/rootfs" && !s.cut
		if first {
			s.cut = true
		}
		s.mu.Unlock()
		if r.URL.Path == "/v2/infra-envs/ie1/downloads/files" {
			fmt.Fprintf(w, "#!ipxe\ninitrd --name initrd %[1]s/images/ie1/pxe-initrd?arch=x86_64&version=4.14&api_key=SECRET\n"+
				"kernel %[1]s/boot-artifacts/kernel?arch=x86_64&version=4.14 initrd=initrd coreos.live.rootfs_url=%[1]s/boot-artifacts/rootfs?arch=x86_64&version=4.14 random.trust_cpu=on ignition.firstboot ignition.platform.id=metal console=tty1 console=ttyS1,115200n8 coreos.inst.persistent-kargs=\"console=tty1 console=ttyS1,115200n8\"\nboot\n", s.URL)
			return
		}
		b, ok := s.files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("ETag", fmt.Sprintf(`"%s"`, originKey(string(b))))
		if first {
			w.Header().Set("Content-Length", fmt.Sprint(len(b)))
			w.WriteHeader(200)
			_, _ = w.Write(b[:len(b)/2])
			panic(http.ErrAbortHandler) // cut the connection
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *installerServer) reqs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

func TestInstallerSource(t *testing.T) {
	is := newInstallerServer(t)
	cache, err := OpenCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	src := &InstallerSource{Script: ScriptURL(is.URL+"/v2/infra-envs/ie1/downloads/files?file_name=ipxe-script", nil)}
	m, err := cache.Fill(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	wantArgs := `random.trust_cpu=on ignition.firstboot ignition.platform.id=metal console=tty1 console=ttyS1,115200n8 coreos.inst.persistent-kargs="console=tty1 console=ttyS1,115200n8"`
	if got := strings.Join(m.KernelArgs, " "); got != wantArgs {
		t.Errorf("kernel args:\n got %s\nwant %s", got, wantArgs)
	}
	for name, path := range map[string]string{"kernel": "/boot-artifacts/kernel", "rootfs": "/boot-artifacts/rootfs", "initrd": "/images/ie1/pxe-initrd"} {
		got, err := os.ReadFile(filepath.Join(cache.Dir(), name))
		if err != nil || !bytes.Equal(got, is.files[path]) {
			t.Errorf("%s: %d bytes, want %d (%v)", name, len(got), len(is.files[path]), err)
		}
	}
	reqs := strings.Join(is.reqs(), "\n")
	if want := fmt.Sprintf(`/boot-artifacts/rootfs bytes=150000- "%s"`, originKey(string(is.files["/boot-artifacts/rootfs"]))); !strings.Contains(reqs, want) {
		t.Errorf("the cut rootfs download was not resumed with a Range request validated by If-Range:\n%s", reqs)
	}
	b, _ := os.ReadFile(filepath.Join(cache.Dir(), manifestName))
	if strings.Contains(string(b), "SECRET") {
		t.Errorf("the manifest keeps the URL's token:\n%s", b)
	}
	left, _ := filepath.Glob(filepath.Join(cache.Dir(), "*.part"))
	tmp, _ := filepath.Glob(filepath.Join(cache.Dir(), ".*"))
	if len(left)+len(tmp) > 0 {
		t.Errorf("left behind: %v %v", left, tmp)
	}

	// A second fill downloads only the initrd (it carries the infra env's ignition).
	n := len(is.reqs())
	if _, err := cache.Fill(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	if got := is.reqs()[n:]; len(got) != 2 || !strings.HasPrefix(got[1], "/images/ie1/pxe-initrd") {
		t.Errorf("second fill requested %v, want the script and the initrd", got)
	}

	// A short body (the server announces more than it sends, every time) fails the fill and
	// keeps the previous manifest.
	is.files["/images/ie1/pxe-initrd"] = nil
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		_, _ = w.Write([]byte("short"))
	}))
	defer bad.Close()
	script := fmt.Sprintf("#!ipxe\ninitrd --name initrd %[1]s/i\nkernel %[1]s/k initrd=initrd coreos.live.rootfs_url=%[1]s/r\nboot\n", bad.URL)
	if _, err := cache.Fill(context.Background(), &InstallerSource{Script: ScriptBytes([]byte(script)), Attempts: 2}); err == nil {
		t.Error("a short download was accepted")
	}
	if cur, ok := cache.Manifest(); !ok || cur.Kernel.Size != 100000 {
		t.Errorf("manifest after a failed fill: %+v", cur)
	}
	// The cache reopens with the manifest (a restart).
	again, err := OpenCache(cache.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if cur, ok := again.Manifest(); !ok || cur.Rootfs.Size != 300000 {
		t.Errorf("reopened manifest: %+v", cur)
	}
}

func TestParseInstallerScriptRefuses(t *testing.T) {
	for _, s := range []string{
		"#!ipxe\nchain http://x/files?mac=${net0/mac}\n", // boot-order-control
		"#!ipxe\nkernel http://x/k coreos.live.rootfs_url=http://x/r\nboot\n",
		"#!ipxe\ninitrd file:///etc/passwd\nkernel http://x/k coreos.live.rootfs_url=http://x/r\n",
		"",
	} {
		if _, err := parseInstallerScript([]byte(s)); err == nil {
			t.Errorf("accepted %q", s)
		}
	}
}

// TestISOSource builds a discovery-shaped ISO with xorriso (or genisoimage) and extracts it.
func TestISOSource(t *testing.T) {
	mk := ""
	for _, tool := range []string{"xorriso", "genisoimage"} {
		if _, err := exec.LookPath(tool); err == nil {
			mk = tool
			break
		}
	}
	if mk == "" {
		t.Skip("needs xorriso or genisoimage; run scripts/install-test-deps.sh")
	}
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	files := map[string]string{
		"images/pxeboot/vmlinuz":               "VMLINUZ",
		"images/pxeboot/initrd.img":            "INITRD",
		"images/pxeboot/rootfs.img":            strings.Repeat("ROOTFS", 100000),
		"images/ignition.img":                  "IGNITION",
		"images/assisted_installer_custom.img": "CUSTOM",
		"EFI/redhat/grub.cfg": "menuentry 'RHEL CoreOS (Live)' --class fedora {\n" +
			"\tlinux /images/pxeboot/vmlinuz mitigations=auto,nosmt coreos.liveiso=rhcos-414 ignition.firstboot ignition.platform.id=metal\n" +
			"\tinitrd /images/pxeboot/initrd.img /images/ignition.img /images/assisted_installer_custom.img\n}\n",
	}
	for p, body := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(tree, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(tree, p), []byte(body))
	}
	iso := filepath.Join(dir, "discovery.iso")
	args := []string{"-R", "-J", "-V", "rhcos-414", "-o", iso, tree}
	if mk == "xorriso" {
		args = append([]string{"-as", "mkisofs"}, args...)
	}
	if b, err := exec.Command(mk, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", mk, err, b)
	}
	cache, err := OpenCache(filepath.Join(dir, "cache"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := cache.Fill(context.Background(), &ISOSource{Path: iso})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(m.KernelArgs, " "); got != "mitigations=auto,nosmt ignition.firstboot ignition.platform.id=metal" {
		t.Errorf("kernel args %q", got)
	}
	want := map[string]string{"kernel": "VMLINUZ", "initrd": "INITRD", "initrd-2": "IGNITION", "initrd-3": "CUSTOM", "rootfs": files["images/pxeboot/rootfs.img"]}
	if len(m.Initrds) != 3 {
		t.Errorf("initrds %+v", m.Initrds)
	}
	for name, body := range want {
		got, err := os.ReadFile(filepath.Join(cache.Dir(), name))
		if err != nil || string(got) != body {
			t.Errorf("%s: %d bytes, want %d (%v)", name, len(got), len(body), err)
		}
	}
	// An ISO without the layout is refused.
	if _, err := cache.Fill(context.Background(), &ISOSource{Path: filepath.Join(tree, "images/ignition.img")}); err == nil {
		t.Error("a non-ISO was accepted")
	}
}

// TestParseInstallerScriptKeepsQuotedArguments: the installer quotes a kernel argument whose
// value has blanks (coreos.inst.persistent-kargs); it stays one argument, quotes and all.
func TestParseInstallerScriptKeepsQuotedArguments(t *testing.T) {
	script := "#!ipxe\ninitrd --name initrd http://ai/initrd\n" +
		"kernel http://ai/kernel initrd=initrd coreos.live.rootfs_url=http://ai/rootfs  random.trust_cpu=on " +
		`coreos.inst.persistent-kargs="console=tty1  console=ttyS1,115200n8"` + " ignition.firstboot\nboot\n"
	s, err := parseInstallerScript([]byte(script))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"random.trust_cpu=on", `coreos.inst.persistent-kargs="console=tty1  console=ttyS1,115200n8"`, "ignition.firstboot"}
	if !slices.Equal(s.kernelArgs, want) {
		t.Errorf("kernel arguments %q, want %q", s.kernelArgs, want)
	}
	if s.rootfs != "http://ai/rootfs" {
		t.Errorf("rootfs %q", s.rootfs)
	}
}
