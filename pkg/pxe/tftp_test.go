package pxe

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// tftpRoot makes a TFTP folder with files of a few sizes, a subfolder and a symbolic link
// to a file outside (as Debian links ipxe.efi to /boot), and a secret next to the folder.
func tftpRoot(t *testing.T) (root string, files map[string][]byte) {
	t.Helper()
	dir := t.TempDir()
	root = filepath.Join(dir, "root")
	if err := os.MkdirAll(filepath.Join(root, "arm64"), 0o755); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 3<<20+123)
	_, _ = rand.Read(big)
	files = map[string][]byte{
		"small.bin":      bytes.Repeat([]byte("s"), 300),
		"undionly.kpxe":  bytes.Repeat([]byte("u"), 100000),
		"big.bin":        big,
		"arm64/ipxe.efi": []byte("arm64 ipxe"),
	}
	for name, b := range files {
		writeFile(t, filepath.Join(root, name), b)
	}
	writeFile(t, filepath.Join(dir, "linked.efi"), []byte("linked ipxe.efi"))
	if err := os.Symlink(filepath.Join(dir, "linked.efi"), filepath.Join(root, "ipxe.efi")); err != nil {
		t.Fatal(err)
	}
	files["ipxe.efi"] = []byte("linked ipxe.efi")
	writeFile(t, filepath.Join(dir, "secret"), []byte("SECRET"))
	return root, files
}

// TestTFTPRealClients fetches every file with tftp-hpa (RFC 1350, 512-byte blocks), atftp
// (blksize 1428 and tsize) and curl (tsize, blksize, timeout), and checks the bytes and the
// metrics.
func TestTFTPRealClients(t *testing.T) {
	needTool(t, "tftp", "atftp", "curl")
	root, files := tftpRoot(t)
	s, _, port := startServer(t, Config{TFTPRoot: root})
	out := t.TempDir()
	p := fmt.Sprint(port)
	clients := map[string]func(remote, local string) *exec.Cmd{
		"tftp-hpa": func(remote, local string) *exec.Cmd {
			return exec.Command("tftp", "-m", "octet", "127.0.0.1", p, "-c", "get", remote, local)
		},
		"atftp-blksize": func(remote, local string) *exec.Cmd {
			return exec.Command("atftp", "--get", "-r", remote, "-l", local, "--option", "blksize 1428", "--option", "tsize 0", "127.0.0.1", p)
		},
		"curl": func(remote, local string) *exec.Cmd {
			return exec.Command("curl", "-sS", "--tftp-blksize", "1428", "-o", local, "tftp://127.0.0.1:"+p+"/"+remote)
		},
	}
	for client, cmd := range clients {
		for name, want := range files {
			local := filepath.Join(out, client+"-"+strings.ReplaceAll(name, "/", "_"))
			if b, err := cmd(name, local).CombinedOutput(); err != nil {
				t.Errorf("%s get %s: %v\n%s", client, name, err, b)
				continue
			}
			got, err := os.ReadFile(local)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s get %s: %d bytes, want %d (err %v)", client, name, len(got), len(want), err)
			}
		}
	}
	if got := counter(s.m.tftpTransfers.WithLabelValues("big.bin", "ok")); got != 3 {
		t.Errorf("transfers of big.bin = %v, want 3", got)
	}
	if got, want := counter(s.m.tftpBytes.WithLabelValues("big.bin")), float64(3*len(files["big.bin"])); got != want {
		t.Errorf("bytes of big.bin = %v, want %v", got, want)
	}

	// atftp's trace shows the options the server acknowledged.
	b, _ := exec.Command("atftp", "--get", "-r", "undionly.kpxe", "-l", filepath.Join(out, "trace"), "--option", "blksize 1428", "--option", "tsize 0", "--trace", "127.0.0.1", p).CombinedOutput()
	if !strings.Contains(string(b), "blksize: 1428") && !strings.Contains(string(b), "blksize 1428") {
		t.Errorf("atftp trace shows no acknowledged blksize:\n%s", b)
	}
	if !strings.Contains(string(b), "tsize: 100000") && !strings.Contains(string(b), "tsize 100000") {
		t.Errorf("atftp trace shows no tsize 100000:\n%s", b)
	}
}

// TestTFTPRefusals: traversal, absolute paths and write requests are refused by every client,
// and nothing is written.
func TestTFTPRefusals(t *testing.T) {
	needTool(t, "tftp", "atftp", "curl")
	root, _ := tftpRoot(t)
	s, _, port := startServer(t, Config{TFTPRoot: root})
	p := fmt.Sprint(port)
	out := t.TempDir()
	for _, name := range []string{"../secret", "arm64/../../secret", "/etc/passwd", "arm64", "nope.bin"} {
		local := filepath.Join(out, "x")
		_ = os.Remove(local)
		// tftp-hpa exits 0 on errors: look at the file and the message.
		b, _ := exec.Command("tftp", "-m", "octet", "127.0.0.1", p, "-c", "get", name, local).CombinedOutput()
		if got, _ := os.ReadFile(local); len(got) > 0 || !strings.Contains(string(b), "Error code 1") {
			t.Errorf("tftp-hpa get %q: got %q, output %s", name, got, b)
		}
		if b, err := exec.Command("atftp", "--get", "-r", name, "-l", local, "127.0.0.1", p).CombinedOutput(); err == nil {
			t.Errorf("atftp get %q succeeded: %s", name, b)
		}
		if got, _ := os.ReadFile(local); len(got) > 0 {
			t.Errorf("atftp get %q: got %q", name, got)
		}
		url := "tftp://127.0.0.1:" + p + "/" + name
		if b, err := exec.Command("curl", "-sS", "--path-as-is", "-o", local, url).CombinedOutput(); err == nil {
			t.Errorf("curl %s succeeded: %s", url, b)
		}
	}
	upload := filepath.Join(out, "up.bin")
	writeFile(t, upload, []byte("upload"))
	if b, err := exec.Command("atftp", "--put", "-l", upload, "-r", "up.bin", "127.0.0.1", p).CombinedOutput(); err == nil {
		t.Errorf("atftp put succeeded: %s", b)
	}
	if b, err := exec.Command("curl", "-sS", "-T", upload, "tftp://127.0.0.1:"+p+"/up2.bin").CombinedOutput(); err == nil {
		t.Errorf("curl upload succeeded: %s", b)
	}
	b, _ := exec.Command("tftp", "-m", "octet", "127.0.0.1", p, "-c", "put", upload, "up3.bin").CombinedOutput()
	if !strings.Contains(string(b), "Error code") {
		t.Errorf("tftp-hpa put: %s", b)
	}
	for _, f := range []string{"up.bin", "up2.bin", "up3.bin"} {
		if _, err := os.Stat(filepath.Join(root, f)); err == nil {
			t.Errorf("%s was written", f)
		}
	}
	if got := counter(s.m.tftpErrors.WithLabelValues("write_refused")); got != 3 {
		t.Errorf("write_refused = %v, want 3", got)
	}
	if got := counter(s.m.tftpErrors.WithLabelValues("bad_name")); got < 9 {
		t.Errorf("bad_name = %v, want at least 9", got)
	}
}
