package pxe

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMain lets the test binary run a bare HTTP boot server for TestISOConcurrentDownloadsRSS.
func TestMain(m *testing.M) {
	if spec := os.Getenv("CN2_PXE_TEST_SERVE"); spec != "" {
		os.Exit(serveChild(spec))
	}
	os.Exit(m.Run())
}

// serveChild serves "ADDR ISO" until stdin closes.
func serveChild(spec string) int {
	addr, iso, _ := strings.Cut(spec, " ")
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	cache, _ := os.MkdirTemp("", "cn2-pxe-child-")
	defer os.RemoveAll(cache)
	s, err := New(Config{HTTPListen: []netip.AddrPort{ap}, ISOFile: iso, CacheDir: cache, HTTPMaxConnsPerClient: 64}, &memDocs{}, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); cancel() }()
	go func() { <-s.Ready(); fmt.Println("ready") }()
	if err := s.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func vmRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS")
}

// TestISOConcurrentDownloadsRSS downloads a 1 GiB sparse ISO 50 times at once from a server in
// a child process and checks that the server's resident memory stays flat: files are streamed
// (sendfile), never read into memory.
func TestISOConcurrentDownloadsRSS(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 50 GiB over loopback; skipped with -short")
	}
	const size, clients = 1 << 30, 50
	dir := t.TempDir()
	iso := filepath.Join(dir, "big.iso")
	f, err := os.Create(iso)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	port := freePort(t)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), fmt.Sprintf("CN2_PXE_TEST_SERVE=127.0.0.1:%d %s", port, iso))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("child: %v", err)
		}
	})
	if line, _ := bufio.NewReader(stdout).ReadString('\n'); line != "ready\n" {
		t.Fatalf("child said %q", line)
	}
	pid := cmd.Process.Pid
	before, err := vmRSS(pid)
	if err != nil {
		t.Fatal(err)
	}

	url := fmt.Sprintf("http://127.0.0.1:%d/iso/big.iso", port)
	tr := &http.Transport{MaxConnsPerHost: clients, MaxIdleConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for range clients {
		wg.Go(func() {
			resp, err := client.Get(url)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			n, err := io.CopyBuffer(io.Discard, resp.Body, make([]byte, 256<<10))
			if err == nil && (n != size || resp.ContentLength != size) {
				err = fmt.Errorf("got %d bytes, Content-Length %d", n, resp.ContentLength)
			}
			errs <- err
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	peak := before
	samples := 0
	for running := true; running; {
		select {
		case <-done:
			running = false
		case <-time.After(100 * time.Millisecond):
			if rss, err := vmRSS(pid); err == nil {
				peak = max(peak, rss)
				samples++
			}
		}
	}
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	t.Logf("server VmRSS: %d MiB before, peak %d MiB during %d×1 GiB downloads (%d samples)", before>>20, peak>>20, clients, samples)
	// 50 × 1 GiB through memory would be 50 GiB; buffers for 50 connections are a few MiB.
	if peak-before > 64<<20 {
		t.Errorf("server RSS grew by %d MiB during the downloads", (peak-before)>>20)
	}
}
