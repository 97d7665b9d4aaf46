// Command tftp benchmarks cn2-appliance's TFTP server against tftpd-hpa and against the limit:
// pin/tftp/v3 (the library the appliance serves with) answering from memory, doing nothing
// else. Each round, 100 concurrent clients fetch ipxe.efi from each server in turn (the order
// rotates between rounds), at blksize 512 and 1432, and every fetched file's checksum is
// compared with the original's.
//
//	go run ./bench/tftp [-clients 100] [-rounds 3] [-file /usr/lib/ipxe/ipxe.efi]
//
// Run as root (tftpd-hpa chroots). The appliance and the limit serve from this binary
// re-executed (-serve), so that the clients do not share their process. All traffic stays on
// 127.0.0.1; every process started is ended by its PID.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/cn2-appliance/cn2-appliance/bench/internal/benchenv"
	"github.com/cn2-appliance/cn2-appliance/internal/freeport"
	"github.com/cn2-appliance/cn2-appliance/pkg/pxe"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
	"github.com/pin/tftp/v3"
	"github.com/prometheus/client_golang/prometheus"
)

func main() {
	serve := flag.String("serve", "", "internal: serve TFTP as appliance or limit (-root, -port)")
	root := flag.String("root", "", "internal: folder served by -serve")
	port := flag.Int("port", 0, "internal: port for -serve")
	file := flag.String("file", "/usr/lib/ipxe/ipxe.efi", "the file the clients fetch")
	clients := flag.Int("clients", 100, "concurrent clients per server")
	rounds := flag.Int("rounds", 3, "rounds; the servers' order rotates between rounds")
	flag.Parse()
	if *serve != "" {
		if err := serveTFTP(*serve, *root, *port); err != nil {
			fmt.Fprintln(os.Stderr, "serve:", err)
			os.Exit(1)
		}
		return
	}
	if err := bench(*file, *clients, max(*rounds, 1)); err != nil {
		fmt.Fprintln(os.Stderr, "bench/tftp:", err)
		os.Exit(1)
	}
}

type server struct {
	name string
	port int
	stop func()
}

func bench(file string, clients, rounds int) error {
	if _, err := exec.LookPath("in.tftpd"); err != nil {
		return fmt.Errorf("tftpd-hpa not installed (run scripts/install-test-deps.sh as root): %w", err)
	}
	content, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("%w (install ipxe, or give -file)", err)
	}
	want := sha256.Sum256(content)
	dir, err := os.MkdirTemp("", "cn2tftp-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, "ipxe.efi"), content, 0o644); err != nil {
		return err
	}
	ports, err := freeport.Ports(3)
	if err != nil {
		return err
	}
	var servers []server
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	peer, err := start(ports[0], "in.tftpd", "-L", "-a", fmt.Sprintf("127.0.0.1:%d", ports[0]), "-s", root, "-u", "root", "-B", "1468")
	if err != nil {
		return err
	}
	servers = append(servers, server{"tftpd-hpa", ports[0], peer})
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	for i, kind := range []string{"appliance", "limit"} {
		stop, err := start(ports[1+i], exe, "-serve", kind, "-root", root, "-port", strconv.Itoa(ports[1+i]))
		if err != nil {
			return err
		}
		servers = append(servers, server{kind, ports[1+i], stop})
	}
	for _, s := range servers {
		if err := fetchOK(s.port, 512, want); err != nil {
			return fmt.Errorf("%s does not serve ipxe.efi right: %w", s.name, err)
		}
	}
	fmt.Printf("bench/tftp: %d clients fetching ipxe.efi (%d bytes) at once, %d rounds, order rotating; load %s\n", clients, len(content), rounds, benchenv.LoadAvg())
	for _, blk := range []int{512, 1432} {
		sum := map[string]float64{}
		for r := range rounds {
			for k := range servers {
				s := servers[(k+r)%len(servers)]
				took, bad, err := storm(s.port, blk, clients, want)
				if err != nil {
					return fmt.Errorf("%s blksize %d: %w", s.name, blk, err)
				}
				fps := float64(clients) / took.Seconds()
				fmt.Printf("blksize %4d round %d  %-10s %7.2fs  %7.1f files/s  %6.1f MB/s  bad checksums/failures %d\n",
					blk, r+1, s.name, took.Seconds(), fps, fps*float64(len(content))/1e6, bad)
				if bad > 0 {
					return fmt.Errorf("%s blksize %d: %d fetches failed or differed from the file", s.name, blk, bad)
				}
				sum[s.name] += fps
			}
		}
		peer, ours, limit := sum["tftpd-hpa"]/float64(rounds), sum["appliance"]/float64(rounds), sum["limit"]/float64(rounds)
		fmt.Printf("blksize %4d mean files/s: tftpd-hpa %.1f, appliance %.1f, limit %.1f; appliance/tftpd-hpa %.2fx, appliance/limit %.2fx\n",
			blk, peer, ours, limit, ours/peer, ours/limit)
		fmt.Printf("BENCH tftp-%d peer=%.1f appliance=%.1f limit=%.1f unit=files/s\n", blk, peer, ours, limit)
	}
	return nil
}

// storm has n clients fetch ipxe.efi at once; it returns how long the last took and how many
// failed or came back different.
func storm(port, blksize, n int, want [32]byte) (time.Duration, int, error) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	bad := 0
	var firstErr error
	start := time.Now()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fetchOK(port, blksize, want); err != nil {
				mu.Lock()
				bad++
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	if bad == n {
		return took, bad, firstErr
	}
	if firstErr != nil {
		fmt.Printf("  first failure: %v\n", firstErr)
	}
	return took, bad, nil
}

func fetchOK(port, blksize int, want [32]byte) error {
	c, err := tftp.NewClient(fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return err
	}
	c.SetTimeout(2 * time.Second)
	c.SetRetries(10)
	c.SetBlockSize(blksize)
	wt, err := c.Receive("ipxe.efi", "octet")
	if err != nil {
		return err
	}
	h := sha256.New()
	if _, err := wt.WriteTo(h); err != nil {
		return err
	}
	if !bytes.Equal(h.Sum(nil), want[:]) {
		return errors.New("checksum differs")
	}
	return nil
}

// serveTFTP is the child: the appliance's pxe server (TFTP only), or the limit.
func serveTFTP(kind, root string, port int) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	switch kind {
	case "appliance":
		st, err := store.Open(filepath.Join(filepath.Dir(root), "state"))
		if err != nil {
			return err
		}
		defer st.Close()
		srv, err := pxe.New(pxe.Config{TFTPListen: []netip.AddrPort{addr}, TFTPRoot: root, CacheDir: filepath.Join(filepath.Dir(root), "cache"),
			AllowFrom: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, st, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
		if err != nil {
			return err
		}
		fmt.Println("ready")
		return srv.Run(ctx)
	case "limit":
		content, err := os.ReadFile(filepath.Join(root, "ipxe.efi"))
		if err != nil {
			return err
		}
		s := tftp.NewServer(func(name string, rf io.ReaderFrom) error {
			if name != "ipxe.efi" {
				return os.ErrNotExist
			}
			if t, ok := rf.(tftp.OutgoingTransfer); ok {
				t.SetSize(int64(len(content)))
			}
			_, err := rf.ReadFrom(bytes.NewReader(content))
			return err
		}, nil)
		conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
		if err != nil {
			return err
		}
		go func() { <-ctx.Done(); s.Shutdown() }()
		fmt.Println("ready")
		return s.Serve(conn)
	}
	return fmt.Errorf("unknown server %q", kind)
}

// start runs a server and waits until its port answers a TFTP request.
func start(port int, name string, args ...string) (func(), error) {
	cmd := exec.Command(name, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
		}
	}()
	stop := func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }
	for range 50 {
		c, err := tftp.NewClient(fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.SetTimeout(200 * time.Millisecond)
			c.SetRetries(1)
			if wt, err := c.Receive("ipxe.efi", "octet"); err == nil {
				_, _ = wt.WriteTo(io.Discard)
				return stop, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	return nil, fmt.Errorf("%s did not serve on port %d", name, port)
}
