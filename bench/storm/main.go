// Command storm rehearses labs of growing size, every node powered on together, and prints
// what each install cost: wall time, CPU time, peak RSS, CPU per node, the longest poll's CPU,
// the appliance time from the last host discovered to the install started, and the most
// installer calls naming one host within a poll interval. The ratio of CPU per node at the
// largest size to that at 200 nodes (or the nearest size below) says whether the cost is linear.
//
//	go run ./bench/storm [-sizes 5,50,200,1000,2000] [-time-scale 0.03] [-timeout 30m]
//
// Each lab is generated (3 control-plane nodes, the rest workers, two /16 networks) in a
// temporary folder and rehearsed by this binary re-executed (-child), so that CPU time and peak
// RSS are one run's (from the child's rusage). The rehearsal is loopback only: the appliance,
// the installer simulator and the simulated nodes and BMCs talk over 127.0.0.0/8.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cn2-appliance/cn2-appliance/bench/internal/benchenv"
	"github.com/cn2-appliance/cn2-appliance/internal/rehearsal"
	"github.com/cn2-appliance/cn2-appliance/pkg/flow"
)

// result is one rehearsal's figures, as the child reports them.
type result struct {
	Nodes     int     `json:"nodes"`
	Installed bool    `json:"installed"`
	Problems  string  `json:"problems,omitempty"`
	NetBoots  int     `json:"netBoots"`
	Polls     int     `json:"polls"`
	MaxPollMS float64 `json:"maxPollCPUms"` // process CPU during the costliest poll
	MaxPollIn string  `json:"maxPollStep"`
	MaxWallMS float64 `json:"maxPollWallms"`
	// DiscToInstallS is the appliance time from the last host registering to the install's start.
	DiscToInstallS float64 `json:"discoveredToInstallS"`
	MaxHostCalls   int     `json:"maxHostCallsPerPoll"`
	DecodesPerHost float64 `json:"maxDecodesPerHostPerPoll"`
	// Parent's measures of the child.
	WallS, CPUS float64
	RSSMB       float64
}

const resultPrefix = "STORM-RESULT "

var cpuprofile string // -cpuprofile

func main() {
	child := flag.String("child", "", "internal: rehearse this lab file and print its figures")
	sizes := flag.String("sizes", "5,50,200,1000,2000", "lab sizes (nodes) to rehearse, comma-separated")
	scale := flag.Float64("time-scale", 0.03, "simulated time scale of each rehearsal (the rehearse command's -time-scale)")
	timeout := flag.Duration("timeout", 30*time.Minute, "give up on one rehearsal after this long")
	parallel := flag.Int("power-parallelism", 0, "assistedInstaller.powerParallelism of the generated labs (0: the default)")
	verbose := flag.Bool("v", false, "show each rehearsal's progress")
	flag.StringVar(&cpuprofile, "cpuprofile", "", "write each rehearsal's CPU profile to this path with -<nodes> appended")
	flag.Parse()
	if *child != "" {
		if err := runChild(*child, *scale, *timeout, *verbose); err != nil {
			fmt.Fprintln(os.Stderr, "storm:", err)
			os.Exit(1)
		}
		return
	}
	var ns []int
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 4 {
			fmt.Fprintf(os.Stderr, "storm: -sizes: %q is not a lab size (at least 4 nodes)\n", s)
			os.Exit(2)
		}
		ns = append(ns, n)
	}
	if err := run(ns, *scale, *timeout, *parallel, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "storm:", err)
		os.Exit(1)
	}
}

func run(sizes []int, scale float64, timeout time.Duration, parallel int, verbose bool) error {
	configs, err := filepath.Abs("configs")
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(configs, "example-secrets")); err != nil {
		return fmt.Errorf("run from the repository's root (needs configs/example-secrets): %w", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "cn2-storm-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fmt.Printf("storm: rehearsals at %v nodes, time scale %g, all nodes powered on together; load: %s\n", sizes, scale, benchenv.LoadAvg())
	fmt.Printf("%6s %5s %8s %8s %7s %11s %12s %14s %12s %10s\n",
		"nodes", "ok", "wall s", "CPU s", "RSS MB", "CPU/node ms", "max poll CPU", "disc→install s", "calls/host", "decodes/h")
	var results []result
	for _, n := range sizes {
		lab := filepath.Join(dir, fmt.Sprintf("lab-%d", n), "lab.yaml")
		if err := writeLab(lab, configs, n, parallel); err != nil {
			return err
		}
		r, err := rehearse(exe, lab, scale, timeout, verbose)
		if err != nil {
			return fmt.Errorf("%d nodes: %w", n, err)
		}
		r.Nodes = n
		results = append(results, r)
		ok := "yes"
		if !r.Installed {
			ok = "NO"
		}
		fmt.Printf("%6d %5s %8.1f %8.1f %7.0f %11.1f %9.0f ms %14.2f %12d %10.2f   (longest poll: %s, %.0f ms wall)\n",
			n, ok, r.WallS, r.CPUS, r.RSSMB, 1000*r.CPUS/float64(n), r.MaxPollMS, r.DiscToInstallS, r.MaxHostCalls, r.DecodesPerHost, r.MaxPollIn, r.MaxWallMS)
		if r.Problems != "" {
			fmt.Printf("       problems: %s\n", r.Problems)
		}
	}
	fmt.Printf("load after: %s\n", benchenv.LoadAvg())
	last := results[len(results)-1]
	ref := results[0]
	for _, r := range results {
		if r.Nodes <= 200 {
			ref = r
		}
	}
	perNode := func(r result) float64 { return 1000 * r.CPUS / float64(r.Nodes) }
	ratio := perNode(last) / perNode(ref)
	fmt.Printf("CPU per node at %d nodes / at %d nodes: %.2fx (goal ≤ 1.3x at 2,000 vs 200)\n", last.Nodes, ref.Nodes, ratio)
	fmt.Printf("BENCH storm appliance=%.2f unit=cpu-ms/node@%d ratio=%.2f note=per-node-cpu-%d/%d\n", perNode(last), last.Nodes, ratio, last.Nodes, ref.Nodes)
	for _, r := range results {
		if !r.Installed {
			return fmt.Errorf("the %d-node rehearsal did not pass", r.Nodes)
		}
	}
	return nil
}

// rehearse runs the child on lab and measures it.
func rehearse(exe, lab string, scale float64, timeout time.Duration, verbose bool) (result, error) {
	cmd := exec.Command(exe, "-child", lab, "-time-scale", strconv.FormatFloat(scale, 'g', -1, 64), "-timeout", timeout.String(),
		"-v="+strconv.FormatBool(verbose))
	if cpuprofile != "" {
		cmd.Args = append(cmd.Args, "-cpuprofile", cpuprofile+"-"+filepath.Base(filepath.Dir(lab)))
	}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return result{}, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	var r result
	found := false
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, resultPrefix); ok {
			found = json.Unmarshal([]byte(rest), &r) == nil
			continue
		}
		fmt.Println("       " + line)
	}
	werr := cmd.Wait()
	r.WallS = time.Since(start).Seconds()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.CPUS = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
		r.RSSMB = float64(ru.Maxrss) / 1024 // kilobytes on Linux
	}
	if !found {
		return r, fmt.Errorf("the rehearsal reported nothing (%v)", werr)
	}
	return r, nil
}

// runChild rehearses lab in this process and prints its figures on one line.
func runChild(lab string, scale float64, timeout time.Duration, verbose bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	stopProfile, err := benchenv.CPUProfile(cpuprofile)
	if err != nil {
		return err
	}
	defer stopProfile()
	var mu sync.Mutex
	var polls []flow.PollReport
	var progress io.Writer = io.Discard
	if verbose {
		progress = os.Stderr
	}
	rr, err := rehearsal.Run(ctx, lab, rehearsal.Options{
		TimeScale: scale, Out: progress,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
		OnPoll: func(p flow.PollReport) {
			mu.Lock()
			polls = append(polls, p)
			mu.Unlock()
		},
	})
	var failed *rehearsal.Failed
	if err != nil && !errors.As(err, &failed) {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	r := result{Installed: rr.Installed && err == nil, NetBoots: rr.NetBoots, Polls: len(polls), MaxHostCalls: rr.MaxHostCalls}
	if failed != nil {
		r.Problems = strings.Join(failed.Problems, "; ")
	}
	for _, p := range polls {
		if ms := float64(p.CPU) / 1e6; ms > r.MaxPollMS {
			r.MaxPollMS, r.MaxPollIn, r.MaxWallMS = ms, p.Step, float64(p.Wall)/1e6
		}
		if p.Hosts > 0 {
			r.DecodesPerHost = max(r.DecodesPerHost, float64(p.Decodes)/float64(p.Hosts))
		}
	}
	if !rr.LastDiscovered.IsZero() && !rr.InstallStarted.IsZero() {
		r.DiscToInstallS = rr.InstallStarted.Sub(rr.LastDiscovered).Seconds()
	}
	b, _ := json.Marshal(r)
	fmt.Println(resultPrefix + string(b))
	return nil
}

// writeLab writes a lab of n nodes (3 control plane, n-3 workers) to path, with the example
// lab's fake secrets and manifests from configs.
func writeLab(path, configs string, n, parallel int) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	sec := func(name string) string { return filepath.Join(configs, "example-secrets", name) }
	var b strings.Builder
	fmt.Fprintf(&b, `cluster:
  name: storm
  baseDomain: contrail.lan
  openshiftVersion: "4.14"
  machineNetwork: 172.16.0.0/16
  apiVIP: 172.16.0.100
  ingressVIP: 172.16.0.101
  sshPublicKeyFile: %s
  pullSecretFile: %s
  manifestsDir: %s
assistedInstaller:
  offlineTokenFile: %s
`, sec("id_ed25519.pub"), sec("pull-secret.json"), filepath.Join(configs, "example-manifests"), sec("offline-token"))
	if parallel > 0 {
		fmt.Fprintf(&b, "  powerParallelism: %d\n", parallel)
	}
	b.WriteString(`networks:
  - name: ctrl
    interface: ens4
    cidr: 172.16.0.0/16
    address: 172.16.0.1
    gateway: 172.16.0.254
    pool: 172.16.200.1-172.16.200.250
  - name: data
    interface: ens5
    cidr: 10.16.0.0/16
    address: 10.16.0.1
dhcp:
  unknownClients: pool
boot:
  method: pxe
nodes:
`)
	for i := range n {
		name, role := fmt.Sprintf("worker-%d", i-3), "worker"
		if i < 3 {
			name, role = fmt.Sprintf("master-%d", i), "control-plane"
		}
		hi, lo := 1+i/250, 1+i%250
		fmt.Fprintf(&b, `  - name: %s
    role: %s
    nics:
      - { network: ctrl, mac: "52:54:00:00:%02x:%02x", ip: 172.16.%d.%d }
      - { network: data, mac: "52:54:00:01:%02x:%02x", ip: 10.16.%d.%d }
    bmc: { driver: redfish, address: "https://10.200.%d.%d", usernameFile: %s, passwordFile: %s, insecure: true }
`, name, role, i>>8, i&0xff, hi, lo, i>>8, i&0xff, hi, lo, hi, lo, sec("bmc-username"), sec("bmc-password"))
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}
