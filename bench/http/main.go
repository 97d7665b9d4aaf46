// Command http benchmarks cn2-appliance's HTTP boot server against nginx (sendfile on) and
// against the limit: net/http serving the same bytes from memory, doing nothing else. Each
// round, 200 concurrent clients (each from its own loopback address, as nodes would be)
// download a generated file (1 GiB by default) from each server in turn for a fixed time, the
// order rotating between rounds; throughput counts every byte received, each server's RSS is
// sampled from /proc meanwhile, and every download that completed has its checksum checked.
//
//	go run ./bench/http [-clients 200] [-size 1073741824] [-duration 10s] [-rounds 3] [-cpuprofile appliance.pprof]
//
// Run as root (nginx). The appliance and the limit serve from this binary re-executed
// (-serve). All traffic stays on 127.0.0.0/8; every process started is ended by its PID.
package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cn2-appliance/cn2-appliance/bench/internal/benchenv"
	"github.com/cn2-appliance/cn2-appliance/internal/freeport"
	"github.com/cn2-appliance/cn2-appliance/pkg/pxe"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
	"github.com/prometheus/client_golang/prometheus"
)

const fileName = "bench.iso"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func main() {
	serve := flag.String("serve", "", "internal: serve as appliance or limit (-dir, -port)")
	dir := flag.String("dir", "", "internal: folder of the file for -serve")
	port := flag.Int("port", 0, "internal: port for -serve")
	clients := flag.Int("clients", 200, "concurrent clients")
	size := flag.Int64("size", 1<<30, "file size, bytes")
	duration := flag.Duration("duration", 10*time.Second, "load per server per round")
	rounds := flag.Int("rounds", 3, "rounds; the servers' order rotates between rounds")
	cpuprofile := flag.String("cpuprofile", "", "write the appliance's CPU profile (whole run) to this file")
	flag.Parse()
	if *serve != "" {
		if err := serveHTTP(*serve, *dir, *port, *cpuprofile); err != nil {
			fmt.Fprintln(os.Stderr, "serve:", err)
			os.Exit(1)
		}
		return
	}
	if *cpuprofile != "" {
		abs, err := filepath.Abs(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench/http:", err)
			os.Exit(1)
		}
		*cpuprofile = abs
	}
	if err := bench(*clients, *size, *duration, max(*rounds, 1), *cpuprofile); err != nil {
		fmt.Fprintln(os.Stderr, "bench/http:", err)
		os.Exit(1)
	}
}

type server struct {
	name string
	port int
	pids func() []int
	stop func()
}

func bench(clients int, size int64, duration time.Duration, rounds int, cpuprofile string) error {
	if _, err := exec.LookPath("nginx"); err != nil {
		return fmt.Errorf("nginx not installed (run scripts/install-test-deps.sh as root): %w", err)
	}
	tmp, err := os.MkdirTemp("", "cn2http-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil { // nginx's workers read the file as nobody
		return err
	}
	root := filepath.Join(tmp, "root")
	if err := os.MkdirAll(filepath.Join(root, "iso"), 0o755); err != nil {
		return err
	}
	path := filepath.Join(root, "iso", fileName)
	want, err := writeFile(path, size)
	if err != nil {
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
	ng, err := startNginx(tmp, root, ports[0])
	if err != nil {
		return err
	}
	servers = append(servers, ng)
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	for i, kind := range []string{"appliance", "limit"} {
		profile := ""
		if kind == "appliance" {
			profile = cpuprofile
		}
		s, err := startChild(kind, exe, filepath.Join(root, "iso"), ports[1+i], profile)
		if err != nil {
			return err
		}
		servers = append(servers, s)
	}
	// The timed rounds cut downloads at their deadline; these complete, and are checked, first.
	for _, s := range servers {
		if err := verify(s, 4, size, want); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		fmt.Printf("%s: 4 concurrent complete downloads, sizes and checksums right\n", s.name)
	}
	fmt.Printf("bench/http: %d clients, file %d MiB, %s per server per round, %d rounds, order rotating; load %s\n",
		clients, size>>20, duration, rounds, benchenv.LoadAvg())
	sum, rss := map[string]float64{}, map[string]float64{}
	cpu, gb := map[string]float64{}, map[string]float64{} // server CPU seconds, GB served
	for r := range rounds {
		for k := range servers {
			s := servers[(k+r)%len(servers)]
			res, err := load(s, clients, size, duration, want)
			if err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			fmt.Printf("round %d  %-9s %8.0f MB/s  server CPU %5.2f s (%4.0f ms/GB)  clients CPU %5.2f s  peak RSS %6.1f MB  complete downloads %d (checksums ok), failed %d\n",
				r+1, s.name, res.mbps, res.serverCPU, 1e3*res.serverCPU/res.gb, res.clientCPU, res.rssMB, res.complete, res.failed)
			if res.failed > 0 {
				return fmt.Errorf("%s: %d downloads failed (first: %v)", s.name, res.failed, res.firstErr)
			}
			sum[s.name] += res.mbps
			cpu[s.name] += res.serverCPU
			gb[s.name] += res.gb
			rss[s.name] = max(rss[s.name], res.rssMB)
		}
	}
	n := float64(rounds)
	peer, ours, limit := sum["nginx"]/n, sum["appliance"]/n, sum["limit"]/n
	fmt.Printf("mean MB/s: nginx %.0f (RSS ≤ %.1f MB), appliance %.0f (RSS ≤ %.1f MB), limit %.0f (RSS ≤ %.1f MB); appliance/nginx %.2fx, appliance/limit %.2fx\n",
		peer, rss["nginx"], ours, rss["appliance"], limit, rss["limit"], ours/peer, ours/limit)
	fmt.Printf("BENCH http peer=%.0f appliance=%.0f limit=%.0f unit=MB/s\n", peer, ours, limit)
	perGB := func(name string) float64 { return 1e3 * cpu[name] / gb[name] }
	fmt.Printf("server CPU per GB served (ms): nginx %.0f, appliance %.0f, limit %.0f; nginx/appliance %.2fx\n",
		perGB("nginx"), perGB("appliance"), perGB("limit"), perGB("nginx")/perGB("appliance"))
	fmt.Printf("BENCH http-cpu peer=%.0f appliance=%.0f limit=%.0f unit=ms/GB lower=better\n", perGB("nginx"), perGB("appliance"), perGB("limit"))
	fmt.Printf("BENCH http-rss peer=%.1f appliance=%.1f limit=%.1f unit=MB\n", rss["nginx"], rss["appliance"], rss["limit"])
	return nil
}

type loadResult struct {
	mbps, rssMB      float64
	gb               float64 // received, 10^9 bytes
	serverCPU        float64 // seconds of CPU (user + system) the server's processes used
	clientCPU        float64 // seconds of CPU the clients (this process) used
	complete, failed int
	firstErr         error
}

// load has clients download the file from s over and over until duration passes.
func load(s server, clients int, size int64, duration time.Duration, want uint32) (loadResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	var bytes atomic.Int64
	var mu sync.Mutex
	var res loadResult
	stopRSS := sampleRSS(s.pids, &res.rssMB)
	url := fmt.Sprintf("http://127.0.0.1:%d/iso/%s", s.port, fileName)
	var wg sync.WaitGroup
	cpu0, self0 := cpuSeconds(s.pids()), selfCPU()
	start := time.Now()
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			from := netip.AddrFrom4([4]byte{127, 77, byte(i >> 8), byte(1 + i&0xff)})
			d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: from.AsSlice()}}
			c := &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableCompression: true}}
			defer c.CloseIdleConnections()
			for ctx.Err() == nil {
				sum, n, err := download(ctx, c, url, &bytes)
				mu.Lock()
				switch {
				case ctx.Err() != nil: // cut by the deadline: its bytes count, it is not checked
				case err != nil:
					res.failed++
					if res.firstErr == nil {
						res.firstErr = err
					}
				case n != size || sum != want:
					res.failed++
					if res.firstErr == nil {
						res.firstErr = fmt.Errorf("download of %d bytes, checksum %08x; want %d bytes, %08x", n, sum, size, want)
					}
				default:
					res.complete++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	stopRSS()
	res.serverCPU, res.clientCPU = cpuSeconds(s.pids())-cpu0, selfCPU()-self0
	res.gb = float64(bytes.Load()) / 1e9
	res.mbps = res.gb * 1e3 / took.Seconds()
	return res, nil
}

// cpuSeconds is the CPU time (user + system) the processes pids have used so far, from
// /proc/<pid>/stat (nginx's workers live through the whole run, so their own counters hold it all).
func cpuSeconds(pids []int) float64 {
	var ticks int64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// The command (field 2) is in parentheses and may hold spaces: count from after it.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 13 {
			continue
		}
		utime, _ := strconv.ParseInt(f[11], 10, 64) // field 14
		stime, _ := strconv.ParseInt(f[12], 10, 64) // field 15
		ticks += utime + stime
	}
	return float64(ticks) / 100 // USER_HZ is 100 on Linux
}

// selfCPU is the CPU time this process (the clients) has used so far.
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// verify has n clients download the whole file at once and checks each copy.
func verify(s server, n int, size int64, want uint32) error {
	url := fmt.Sprintf("http://127.0.0.1:%d/iso/%s", s.port, fileName)
	errs := make(chan error, n)
	var total atomic.Int64
	for range n {
		go func() {
			sum, got, err := download(context.Background(), &http.Client{}, url, &total)
			if err == nil && (got != size || sum != want) {
				err = fmt.Errorf("download of %d bytes, checksum %08x; want %d bytes, %08x", got, sum, size, want)
			}
			errs <- err
		}()
	}
	var first error
	for range n {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

func download(ctx context.Context, c *http.Client, url string, total *atomic.Int64) (uint32, int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, errors.New(resp.Status)
	}
	buf := make([]byte, 256<<10)
	var sum uint32
	var n int64
	for {
		k, err := resp.Body.Read(buf)
		if k > 0 {
			sum = crc32.Update(sum, castagnoli, buf[:k])
			n += int64(k)
			total.Add(int64(k))
		}
		if err == io.EOF {
			return sum, n, nil
		}
		if err != nil {
			return sum, n, err
		}
	}
}

// sampleRSS samples the summed VmRSS of pids() every 100 ms into peak until stopped.
func sampleRSS(pids func() []int, peak *float64) func() {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			var kb int64
			for _, pid := range pids() {
				kb += vmRSS(pid)
			}
			*peak = max(*peak, float64(kb)/1024)
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); <-finished }
}

func vmRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb
			}
		}
	}
	return 0
}

// writeFile writes size bytes where every 8 bytes hold their own offset (so a misplaced block
// changes the checksum) and returns the content's CRC-32C.
func writeFile(path string, size int64) (uint32, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	var sum uint32
	for off := int64(0); off < size; off += int64(len(buf)) {
		chunk := buf[:min(int64(len(buf)), size-off)]
		for i := 0; i+8 <= len(chunk); i += 8 {
			binary.LittleEndian.PutUint64(chunk[i:], uint64(off)+uint64(i))
		}
		sum = crc32.Update(sum, castagnoli, chunk)
		if _, err := f.Write(chunk); err != nil {
			return 0, err
		}
	}
	return sum, f.Close()
}

func startNginx(tmp, root string, port int) (server, error) {
	conf := filepath.Join(tmp, "nginx.conf")
	text := fmt.Sprintf(`daemon off;
worker_processes auto;
pid %[1]s/nginx.pid;
error_log %[1]s/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  server { listen 127.0.0.1:%[2]d; root %[3]s; }
}
`, tmp, port, root)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		return server{}, err
	}
	cmd := exec.Command("nginx", "-c", conf, "-p", tmp)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return server{}, fmt.Errorf("start nginx: %w", err)
	}
	s := server{name: "nginx", port: port,
		pids: func() []int { return append([]int{cmd.Process.Pid}, children(cmd.Process.Pid)...) },
		stop: func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }}
	return s, waitHTTP(s)
}

func startChild(kind, exe, dir string, port int, cpuprofile string) (server, error) {
	cmd := exec.Command(exe, "-serve", kind, "-dir", dir, "-port", strconv.Itoa(port), "-cpuprofile", cpuprofile)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return server{}, err
	}
	s := server{name: kind, port: port, pids: func() []int { return []int{cmd.Process.Pid} },
		stop: func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }}
	return s, waitHTTP(s)
}

// children are the PIDs whose parent is pid (nginx's workers).
func children(pid int) []int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

func waitHTTP(s server) error {
	url := fmt.Sprintf("http://127.0.0.1:%d/iso/%s", s.port, fileName)
	for range 100 {
		req, _ := http.NewRequest(http.MethodHead, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.stop()
	return fmt.Errorf("%s does not serve %s", s.name, url)
}

// serveHTTP is the child: the appliance's pxe server (HTTP only, the file as its ISO), or the limit.
// cpuprofile, if not empty, receives the child's CPU profile.
func serveHTTP(kind, dir string, port int, cpuprofile string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	stopProfile, err := benchenv.CPUProfile(cpuprofile)
	if err != nil {
		return err
	}
	defer stopProfile()
	addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	switch kind {
	case "appliance":
		state := filepath.Join(filepath.Dir(dir), "state-"+kind)
		st, err := store.Open(state)
		if err != nil {
			return err
		}
		defer st.Close()
		srv, err := pxe.New(pxe.Config{HTTPListen: []netip.AddrPort{addr}, ISOFile: filepath.Join(dir, fileName),
			CacheDir: filepath.Join(state, "cache"), AllowFrom: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
			st, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
		if err != nil {
			return err
		}
		return srv.Run(ctx)
	case "limit":
		content, err := os.ReadFile(filepath.Join(dir, fileName))
		if err != nil {
			return err
		}
		mod := time.Now()
		srv := &http.Server{Addr: addr.String(), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.ServeContent(w, r, fileName, mod, bytes.NewReader(content))
		})}
		go func() { <-ctx.Done(); _ = srv.Close() }()
		if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
	return fmt.Errorf("unknown server %q", kind)
}
