package appliance

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cn2-appliance/cn2-appliance/pkg/config"
)

const (
	newMAC = "52:54:00:00:00:16"
	newIP  = "127.16.0.16"
)

// withWorker2 is lab with one more worker: a DHCP reservation, DNS names and a boot profile,
// so each service shows whether it runs the new lab.
func withWorker2(lab *config.Lab) *config.Lab {
	next := copyLab(lab)
	w := next.Nodes[len(next.Nodes)-1]
	w.Name, w.DPDK = "worker-2", false
	w.NICs = []config.NIC{{Network: "ctrl", MAC: config.MAC(newMAC), IP: netip4(newIP)}}
	next.Nodes = append(next.Nodes, w)
	return next
}

// assertLab checks every service and Lab() against whether worker-2 should be known.
func assertLab(t *testing.T, a *running, lab *config.Lab, worker2 bool) {
	t.Helper()
	nodes := 5
	wantIP := ""
	if worker2 {
		nodes, wantIP = 6, newIP
	}
	if got := len(a.Lab().Nodes); got != nodes {
		t.Errorf("Lab() has %d nodes, want %d", got, nodes)
	}
	if got := lookup(t, lab, "worker-2"); got != wantIP {
		t.Errorf("dns: worker-2 = %q, want %q", got, wantIP)
	}
	if script := bootScript(t, lab, strings.ReplaceAll(newMAC, ":", "-")); strings.Contains(script, "not in the lab") == worker2 {
		t.Errorf("pxe: worker-2's boot script (known: %v):\n%s", worker2, script)
	}
	if got := offer(t, lab, newMAC); (got == newIP) != worker2 {
		t.Errorf("dhcp: worker-2 offered %s (reservation expected: %v)", got, worker2)
	}
}

// TestReloadIsAllOrNothing: for each service, a lab change that service refuses (a real
// refusal: an interface that does not exist, a port someone else holds) leaves every service
// and Lab() on the old lab, and the status, the event log and the metrics say why; a good
// reload after it applies everywhere and flips the metric back.
func TestReloadIsAllOrNothing(t *testing.T) {
	for _, tt := range []struct {
		service string
		breakIt func(lab *config.Lab, takenPort int)
		why     string
	}{
		{"dhcp", func(l *config.Lab, _ int) { l.Networks[1].Interface = "cn2-nosuch0" }, "on cn2-nosuch0"},
		{"dns", func(l *config.Lab, port int) { l.DNS.Port = port }, "dns: reload: dns: listen tcp 127.16.0.1:"},
		{"pxe", func(l *config.Lab, port int) { l.Boot.HTTPPort = port }, "pxe: reload: pxe: http: listen on 127.16.0.1:"},
	} {
		t.Run(tt.service, func(t *testing.T) {
			lab := loopbackLab(t)
			a := runLoopback(t, lab, Options{NoInstall: true})
			taken, err := net.Listen("tcp4", fmt.Sprintf("127.16.0.1:%d", freePort(t)))
			if err != nil {
				t.Fatal(err)
			}
			defer taken.Close()
			startedAt := a.gauge(t, "cn2_appliance_config_last_reload_success_timestamp_seconds")
			if a.gauge(t, "cn2_appliance_config_last_reload_successful") != 1 || startedAt == 0 {
				t.Fatal("the lab loaded at start does not count as a successful load")
			}

			bad := withWorker2(lab)
			tt.breakIt(bad, taken.Addr().(*net.TCPAddr).Port)
			err = a.Reload(bad)
			if err == nil || !strings.Contains(err.Error(), tt.why) {
				t.Fatalf("Reload = %v, want a refusal saying %q", err, tt.why)
			}
			assertLab(t, a, lab, false)
			s := a.Snapshot()
			if s.Reload.Successful || len(s.Reload.Problems) != 1 || !strings.Contains(s.Reload.Problems[0].Message, tt.why) || s.Reload.File != lab.File {
				t.Errorf("status after the refusal: %+v", s.Reload)
			}
			if !hasEvent(s.Events, "reload of "+lab.File+" refused", tt.why) {
				t.Errorf("no event for the refusal: %+v", s.Events)
			}
			if a.gauge(t, "cn2_appliance_config_last_reload_successful") != 0 {
				t.Error("metric: the refused reload counts as successful")
			}
			if got := a.gauge(t, "cn2_appliance_config_last_reload_success_timestamp_seconds"); got != startedAt {
				t.Errorf("metric: a refused reload moved the success timestamp from %v to %v", startedAt, got)
			}

			good := withWorker2(lab)
			if err := a.Reload(good); err != nil {
				t.Fatal(err)
			}
			assertLab(t, a, lab, true)
			s = a.Snapshot()
			if !s.Reload.Successful || len(s.Reload.Problems) != 0 {
				t.Errorf("status after a good reload: %+v", s.Reload)
			}
			if a.gauge(t, "cn2_appliance_config_last_reload_successful") != 1 {
				t.Error("metric: a good reload did not flip the metric back to 1")
			}
			got := a.gauge(t, "cn2_appliance_config_last_reload_success_timestamp_seconds")
			if got == startedAt || got != float64(s.Reload.LastSuccess.UnixNano())/1e9 {
				t.Errorf("metric: success timestamp %v after the good reload (start %v, status %v)", got, startedAt, s.Reload.LastSuccess)
			}
			if err := a.Healthy(); err != nil {
				t.Errorf("after the reloads: %v", err)
			}
		})
	}
}

// TestReloadFileRefusesABadFile: a lab file that does not load is a refused reload, with each
// problem's line, and nothing changes.
func TestReloadFileRefusesABadFile(t *testing.T) {
	lab := loopbackLab(t)
	a := runLoopback(t, lab, Options{NoInstall: true})
	bad := filepath.Join(t.TempDir(), "lab.yaml")
	if err := os.WriteFile(bad, []byte("cluster:\n  name: mycluster\n  nmae: typo\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := a.ReloadFile(bad)
	if err == nil || !strings.Contains(err.Error(), `unknown key "nmae"`) {
		t.Fatalf("ReloadFile of a bad file = %v", err)
	}
	s := a.Snapshot()
	var typo bool
	for _, p := range s.Reload.Problems {
		typo = typo || (p.Line == 3 && p.File == bad && strings.Contains(p.Message, `unknown key "nmae"`))
	}
	if s.Reload.Successful || !typo {
		t.Errorf("status after a bad file: %+v", s.Reload)
	}
	if !hasEvent(s.Events, "reload of "+bad+" refused", bad+":3:3: cluster.nmae: unknown key") {
		t.Errorf("no event with the problem's line: %+v", s.Events)
	}
	if a.gauge(t, "cn2_appliance_config_last_reload_successful") != 0 {
		t.Error("metric: a bad file counts as a successful reload")
	}
	if a.Lab() != lab || len(a.Lab().Nodes) != 5 {
		t.Error("a bad file changed the lab")
	}
	if err := a.ReloadFile(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || a.Snapshot().Reload.Successful {
		t.Error("a missing lab file is not a refused reload")
	}
}

func hasEvent(events []statusEvent, parts ...string) bool {
	for _, e := range events {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(e.Message, p)
		}
		if all {
			return true
		}
	}
	return false
}
