package bmctest

import (
	"bytes"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"
)

// Libvirtd is a private libvirtd whose built-in test driver (test:///default, one running
// domain "test") is reached through its own unix socket. The helper holds a connection open
// for the whole test, so the test driver's state lasts across connections.
type Libvirtd struct {
	Socket string
	// URI is the driver URI with the socket, for go-libvirt's ConnectToURI.
	URI string
}

// StartLibvirtd starts libvirtd with a private config, socket and state folder. As root it
// runs as nobody in session mode, so its state (under XDG folders in the temp dir) cannot
// collide with another libvirtd on the machine, such as one started by a test of another
// package at the same time; the privileged daemon's drivers lock files under /run/libvirt.
// Killed by PID when the test ends. Skips when libvirtd is not installed.
func StartLibvirtd(t testing.TB) *Libvirtd {
	t.Helper()
	bin, err := exec.LookPath("libvirtd")
	if err != nil {
		if _, err = os.Stat("/usr/sbin/libvirtd"); err != nil {
			t.Skip("libvirtd not installed (Debian packages libvirt-daemon, libvirt-daemon-system): skipping the libvirt peer test")
		}
		bin = "/usr/sbin/libvirtd"
	}
	dir, err := os.MkdirTemp("", "cn2-libvirtd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	run := filepath.Join(dir, "run")
	conf := fmt.Sprintf("unix_sock_dir = %q\nauth_unix_rw = \"none\"\nauth_unix_ro = \"none\"\nunix_sock_rw_perms = \"0777\"\nlog_outputs = \"3:stderr\"\n", run)
	for _, d := range []string{run, filepath.Join(dir, "config"), filepath.Join(dir, "cache")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "libvirtd.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-f", filepath.Join(dir, "libvirtd.conf"))
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + dir, "XDG_RUNTIME_DIR=" + run,
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"), "XDG_CACHE_HOME=" + filepath.Join(dir, "cache")}
	if os.Geteuid() == 0 {
		uid, gid := nobody(t)
		if err := chownAll(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		_ = os.Chmod(dir, 0o755)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start libvirtd: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // by PID
		<-done
		if t.Failed() {
			t.Logf("libvirtd (pid %d) output:\n%s", cmd.Process.Pid, out.String())
		}
	})
	sock := filepath.Join(run, "libvirt-sock")
	for i := 0; ; i++ {
		if c, err := net.Dial("unix", sock); err == nil { // the file appears before listen()
			c.Close()
			break
		}
		select {
		case <-done:
			t.Fatalf("libvirtd exited at start:\n%s", out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if i > 600 {
			t.Fatalf("libvirtd made no socket at %s in 30s:\n%s", sock, out.String())
		}
	}
	lv := &Libvirtd{Socket: sock, URI: "test+unix:///default?socket=" + sock}
	// The test driver keeps test:///default's state only while a connection is open: hold
	// one, so the domain keeps its state between the connections of the code under test, as
	// a real hypervisor would.
	u, _ := url.Parse(lv.URI)
	keeper, err := libvirt.ConnectToURI(u)
	if err != nil {
		t.Fatalf("connect to the private libvirtd: %v", err)
	}
	t.Cleanup(func() { _ = keeper.Disconnect() })
	return lv
}

func nobody(t testing.TB) (uint32, uint32) {
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody to run libvirtd unprivileged: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return uint32(uid), uint32(gid)
}

func chownAll(dir string, uid, gid uint32) error {
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(uid), int(gid))
	})
}
