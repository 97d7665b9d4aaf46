package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/coreos/go-systemd/v22/journal"
)

// TestJournalLogging logs through newLogger as serve does under systemd, with JOURNAL_STREAM
// naming the file it writes to, into a fake journal: a unixgram socket at journald's own path,
// /run/systemd/journal/socket, in a mount namespace of the test's own (only the logging
// thread sees it; go-systemd's journal.Send writes there). Each record must arrive with its
// level's PRIORITY= and its attributes as upper-case fields, and nothing on stderr.
func TestJournalLogging(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a fake journal socket at /run/systemd/journal/socket in a private mount namespace")
	}
	stderr, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(stderr.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	t.Setenv("JOURNAL_STREAM", fmt.Sprintf("%d:%d", st.Dev, st.Ino))

	var entries []map[string]string
	done := make(chan error, 1)
	go func() {
		// This thread's mount namespace is changed for good: never unlocked, the runtime
		// discards the thread when the goroutine ends.
		runtime.LockOSThread()
		done <- func() error {
			sock, err := fakeJournal()
			if err != nil {
				return err
			}
			defer sock.Close()
			log, err := newLogger(stderr, "auto", "debug")
			if err != nil {
				return err
			}
			log.Debug("dhcp: offer", "mac", "52:54:00:00:00:10", "ip", "172.16.0.10")
			log.Info("flow: node booted", "node", "master-0", "mac", "52:54:00:00:00:10")
			log.With("step", "watch-install").Warn("flow: step failed; retrying", "attempt", 2)
			log.Error("serve: reload failed; still running the previous lab", "err", errors.New("lab.yaml:3:3: cluster.nmae: unknown key"))
			log.WithGroup("dns").Info("dns: upstream", "server", "192.0.2.53", "message", "not the MESSAGE", "_hidden", "x")
			for range 5 {
				buf := make([]byte, 64<<10)
				n, err := sock.Read(buf)
				if err != nil {
					return err
				}
				e, err := parseJournalEntry(buf[:n])
				if err != nil {
					return err
				}
				entries = append(entries, e)
			}
			return nil
		}()
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	want := []map[string]string{
		{"PRIORITY": "7", "MESSAGE": "dhcp: offer mac=52:54:00:00:00:10 ip=172.16.0.10", "MAC": "52:54:00:00:00:10", "IP": "172.16.0.10"},
		{"PRIORITY": "6", "MESSAGE": "flow: node booted node=master-0 mac=52:54:00:00:00:10", "NODE": "master-0", "MAC": "52:54:00:00:00:10"},
		{"PRIORITY": "4", "MESSAGE": "flow: step failed; retrying step=watch-install attempt=2", "STEP": "watch-install", "ATTEMPT": "2"},
		{"PRIORITY": "3", "MESSAGE": `serve: reload failed; still running the previous lab err="lab.yaml:3:3: cluster.nmae: unknown key"`, "ERR": "lab.yaml:3:3: cluster.nmae: unknown key"},
		{"PRIORITY": "6", "DNS_SERVER": "192.0.2.53", "DNS_MESSAGE": "not the MESSAGE", "DNS__HIDDEN": "x"},
	}
	for i, w := range want {
		e := entries[i]
		if e["SYSLOG_IDENTIFIER"] != "cn2-appliance" {
			t.Errorf("entry %d: SYSLOG_IDENTIFIER=%q", i, e["SYSLOG_IDENTIFIER"])
		}
		for k, v := range w {
			if e[k] != v {
				t.Errorf("entry %d: %s=%q, want %q (entry %v)", i, k, e[k], v, e)
			}
		}
	}
	if b, _ := os.ReadFile(stderr.Name()); len(b) > 0 {
		t.Errorf("wrote to stderr while the journal took every record:\n%s", b)
	}
}

// fakeJournal mounts a tmpfs on /run in a new mount namespace of the calling (locked) thread
// and listens at journald's socket path inside it.
func fakeJournal() (*net.UnixConn, error) {
	if err := syscall.Unshare(syscall.CLONE_NEWNS); err != nil {
		return nil, fmt.Errorf("unshare: %w", err)
	}
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return nil, fmt.Errorf("make / private: %w", err)
	}
	if err := syscall.Mount("tmpfs", "/run", "tmpfs", 0, "mode=0755"); err != nil {
		return nil, fmt.Errorf("mount a tmpfs on /run: %w", err)
	}
	if err := os.MkdirAll("/run/systemd/journal", 0o755); err != nil {
		return nil, err
	}
	return net.ListenUnixgram("unixgram", &net.UnixAddr{Name: "/run/systemd/journal/socket", Net: "unixgram"})
}

// parseJournalEntry reads journald's native protocol: KEY=value lines, or KEY, a newline, a
// little-endian 64-bit length and that many bytes, then a newline.
func parseJournalEntry(b []byte) (map[string]string, error) {
	e := map[string]string{}
	for len(b) > 0 {
		nl := bytes.IndexByte(b, '\n')
		if nl < 0 {
			return nil, fmt.Errorf("unterminated field %q", b)
		}
		line := string(b[:nl])
		b = b[nl+1:]
		if k, v, ok := strings.Cut(line, "="); ok {
			e[k] = v
			continue
		}
		if len(b) < 8 {
			return nil, fmt.Errorf("field %s: no length", line)
		}
		n := binary.LittleEndian.Uint64(b)
		b = b[8:]
		if uint64(len(b)) < n+1 {
			return nil, fmt.Errorf("field %s: short", line)
		}
		e[line] = string(b[:n])
		b = b[n+1:]
	}
	return e, nil
}

// TestLogFormatChoice: auto is text unless the writer is the journal stream; journal needs no
// JOURNAL_STREAM; a record the journal refuses goes to the fallback as text with its level.
func TestLogFormatChoice(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	t.Setenv("JOURNAL_STREAM", "1:2")
	log, err := newLogger(f, "auto", "info")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := log.Handler().(*slog.TextHandler); !ok {
		t.Errorf("auto with another JOURNAL_STREAM: %T, want text", log.Handler())
	}
	log, err = newLogger(f, "journal", "warn")
	if err != nil {
		t.Fatal(err)
	}
	h, ok := log.Handler().(*journalHandler)
	if !ok {
		t.Fatalf("journal: %T", log.Handler())
	}
	var buf logBuffer
	h.fallback = &buf
	h.send = func(string, journal.Priority, map[string]string) error { return errors.New("no journal") }
	log.Info("not logged")
	log.Warn("flow: step failed", "node", "master-0")
	if got := buf.String(); strings.Contains(got, "not logged") || !strings.Contains(got, "WARN flow: step failed node=master-0 (journal: no journal)") {
		t.Errorf("fallback got %q", got)
	}
	if _, err := newLogger(f, "xml", "info"); err == nil || !strings.Contains(err.Error(), "want auto, text, json or journal") {
		t.Errorf("xml: %v", err)
	}
}
