package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const journaldBin = "/lib/systemd/systemd-journald"

// logToJournal is the process TestRealJournald runs: the appliance's logger in journal format.
func logToJournal() {
	log, err := newLogger(os.Stderr, "journal", "debug")
	if err != nil {
		panic(err)
	}
	log.Info("flow: node booted", "node", "master-0", "mac", "52:54:00:00:00:11")
	log.Warn("flow: node stalled; powering it on", "node", "master-0", "step", "watch-install")
	log.Info("flow: node booted", "node", "worker-0", "mac", "52:54:00:00:00:14")
	log.Debug("dhcp: offer", "mac", "52:54:00:00:00:11")
}

// journalScript runs a real systemd-journald in a mount namespace of its own (tmpfs on /run
// and on /var/log/journal, so neither the host's journal sockets nor its journal files are
// touched), logs through it with the test binary, and asks journalctl what an operator asks.
const journalScript = `set -eu
mount -t tmpfs tmpfs /run
if [ -d /var/log/journal ]; then mount -t tmpfs tmpfs /var/log/journal; fi
` + journaldBin + ` & jd=$!
trap 'kill $jd' EXIT
for i in $(seq 100); do [ -S /run/systemd/journal/socket ] && break; sleep 0.05; done
CN2_APPLIANCE_TEST_JOURNAL_LOG=1 "$1"
q() { journalctl --directory=/run/log/journal -o json "$@"; }
for i in $(seq 100); do [ "$(q SYSLOG_IDENTIFIER=cn2-appliance | wc -l)" -ge 4 ] && break; sleep 0.05; done
echo '--- NODE=master-0'; q SYSLOG_IDENTIFIER=cn2-appliance NODE=master-0
echo '--- -p warning'; q -p warning SYSLOG_IDENTIFIER=cn2-appliance
`

// TestRealJournald: records the appliance logs under systemd reach a real journald with their
// priority and fields, so `journalctl NODE=master-0` finds a node's lines and `-p warning`
// its warnings. (Under systemd, journald adds _SYSTEMD_UNIT=cn2-appliance.service from the
// service's cgroup, which `journalctl -u cn2-appliance` matches; without systemd as PID 1
// there is no unit cgroup, so this test matches SYSLOG_IDENTIFIER=cn2-appliance instead.)
func TestRealJournald(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: a private mount namespace for a journald of the test's own")
	}
	for _, bin := range []string{journaldBin, "journalctl", "unshare"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("no %s (package systemd / util-linux)", bin)
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "journal.sh")
	if err := os.WriteFile(script, []byte(journalScript), 0o700); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", script, self)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\n%s\n%s", err, out.String(), errOut.String())
	}
	_, rest, _ := strings.Cut(out.String(), "--- NODE=master-0\n")
	byNode, byPriority, _ := strings.Cut(rest, "--- -p warning\n")
	node, warnings := journalEntries(t, byNode), journalEntries(t, byPriority)
	if len(node) != 2 || node[0]["MESSAGE"] != "flow: node booted node=master-0 mac=52:54:00:00:00:11" || node[0]["PRIORITY"] != "6" ||
		node[0]["MAC"] != "52:54:00:00:00:11" || node[1]["PRIORITY"] != "4" || node[1]["STEP"] != "watch-install" {
		t.Errorf("journalctl NODE=master-0: %v", node)
	}
	if len(warnings) != 1 || warnings[0]["MESSAGE"] != "flow: node stalled; powering it on node=master-0 step=watch-install" {
		t.Errorf("journalctl -p warning: %v", warnings)
	}
	if t.Failed() {
		t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
	}
}

func journalEntries(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if line == "" {
			continue
		}
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("journalctl -o json: %v: %q", err, line)
		}
		out = append(out, e)
	}
	return out
}
