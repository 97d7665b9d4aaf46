package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestProcessCollectorUnderTheUnit collects serve's runtime metrics with /proc mounted as the
// unit's ProtectProc= and ProcSubset= have systemd mount it (hidepid= and subset= options of a
// procfs of the test's own, in a mount namespace only the collecting thread sees): every
// process_* metric must be there, process_start_time_seconds included. As a check that the
// mount does what systemd's would, the same /proc with subset=pid (ProcSubset=pid) loses
// process_start_time_seconds, as it did under the unit before.
func TestProcessCollectorUnderTheUnit(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a procfs in a private mount namespace")
	}
	opts := unitProcOptions(t, "../../systemd/cn2-appliance.service")
	t.Logf("the unit's /proc: %s", opts)
	got, err := collectUnderProc(opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"process_start_time_seconds", "process_cpu_seconds_total", "process_open_fds", "process_max_fds", "process_resident_memory_bytes", "process_virtual_memory_bytes", "go_goroutines"} {
		if !got[name] {
			t.Errorf("%s is missing under the unit's /proc (%s)", name, opts)
		}
	}

	withSubset, err := collectUnderProc("hidepid=invisible,subset=pid")
	if err != nil {
		t.Fatal(err)
	}
	if withSubset["process_start_time_seconds"] || !withSubset["process_open_fds"] {
		t.Errorf("under subset=pid: start time %v, open fds %v; want the start time lost and the rest there (is the mount what systemd does?)",
			withSubset["process_start_time_seconds"], withSubset["process_open_fds"])
	}
}

// unitProcOptions turns the unit's ProtectProc= and ProcSubset= into procfs mount options as
// systemd.exec(5) describes them.
func unitProcOptions(t *testing.T, unit string) string {
	t.Helper()
	f, err := os.Open(unit)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var opts []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		switch {
		case !ok:
		case key == "ProtectProc" && val != "default":
			opts = append(opts, "hidepid="+val)
		case key == "ProcSubset" && val == "pid":
			opts = append(opts, "subset=pid")
		}
	}
	if len(opts) == 0 {
		return "defaults"
	}
	return strings.Join(opts, ",")
}

// collectUnderProc collects runtimeCollectors on one OS thread that has a /proc mounted with
// opts in a mount namespace of its own, and returns the metric names it got. The collectors
// read /proc while Collect runs, on the calling goroutine, hence on that thread.
func collectUnderProc(opts string) (map[string]bool, error) {
	type result struct {
		names map[string]bool
		err   error
	}
	done := make(chan result, 1)
	go func() {
		// The thread's namespace is changed for good: never unlocked, it is discarded.
		runtime.LockOSThread()
		if err := syscall.Unshare(syscall.CLONE_NEWNS); err != nil {
			done <- result{err: fmt.Errorf("unshare: %w", err)}
			return
		}
		if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
			done <- result{err: fmt.Errorf("make / private: %w", err)}
			return
		}
		data := opts
		if data == "defaults" {
			data = ""
		}
		if err := syscall.Mount("proc", "/proc", "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, data); err != nil {
			done <- result{err: fmt.Errorf("mount proc -o %s: %w", opts, err)}
			return
		}
		names := map[string]bool{}
		for _, c := range runtimeCollectors() {
			ch := make(chan prometheus.Metric, 1000)
			c.Collect(ch)
			close(ch)
			for m := range ch {
				d := m.Desc().String()
				if _, rest, ok := strings.Cut(d, `fqName: "`); ok {
					name, _, _ := strings.Cut(rest, `"`)
					names[name] = true
				}
			}
		}
		done <- result{names: names}
	}()
	r := <-done
	return r.names, r.err
}
