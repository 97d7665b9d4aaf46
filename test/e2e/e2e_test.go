// Package e2e runs the cn2-appliance binary as a lab engineer would, inside network
// namespaces the tests create and remove. The tests need root and the peers that
// scripts/install-test-deps.sh installs; without them they skip and say why.
package e2e

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds cn2-appliance once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cn2-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "cn2-appliance")
		out, err := exec.Command("go", "build", "-o", binPath, "../../cmd/cn2-appliance").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func needRoot(t *testing.T, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces (CI runs as root)")
	}
	for _, tool := range append([]string{"ip"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s on PATH; run scripts/install-test-deps.sh", tool)
		}
	}
}

// netns is a network namespace owned by one test.
type netns struct{ name string }

var netnsCount int

// newNetns creates a namespace with loopback up; it is deleted when the test ends, after the
// processes in it are killed.
func newNetns(t *testing.T) *netns {
	t.Helper()
	netnsCount++
	n := &netns{name: fmt.Sprintf("cn2e2e-%d-%d", os.Getpid(), netnsCount)}
	sh(t, "ip", "netns", "add", n.name)
	t.Cleanup(func() {
		if pids, err := exec.Command("ip", "netns", "pids", n.name).Output(); err == nil {
			for _, pid := range strings.Fields(string(pids)) {
				_ = exec.Command("kill", "-9", pid).Run()
			}
		}
		_ = exec.Command("ip", "netns", "del", n.name).Run()
	})
	n.sh(t, "ip", "link", "set", "lo", "up")
	return n
}

// labTopology is the jump host's namespace with one interface per lab network, each wired
// to a client namespace (its interface is eth0) that stands for the nodes on that network.
type labTopology struct {
	server  *netns
	clients map[string]*netns // by server interface name
}

// newLabTopology builds it from "ens4=172.16.0.1/24"-style specs.
func newLabTopology(t *testing.T, ifaces ...string) *labTopology {
	t.Helper()
	top := &labTopology{server: newNetns(t), clients: map[string]*netns{}}
	for _, spec := range ifaces {
		name, addr, _ := strings.Cut(spec, "=")
		c := newNetns(t)
		top.server.sh(t, "ip", "link", "add", name, "type", "veth", "peer", "name", "eth0", "netns", c.name)
		top.server.sh(t, "ip", "addr", "add", addr, "dev", name)
		top.server.sh(t, "ip", "link", "set", name, "up")
		c.sh(t, "ip", "link", "set", "eth0", "up")
		top.clients[name] = c
	}
	return top
}

func (n *netns) command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.name, name}, args...)...)
}

func (n *netns) sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	return sh(t, "ip", append([]string{"netns", "exec", n.name, name}, args...)...)
}

func sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// copyTree copies a folder of small files, making every file private (0600) as secrets must be.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a bytes.Buffer safe to write from a process and read from the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var _ io.Writer = (*syncBuffer)(nil)
