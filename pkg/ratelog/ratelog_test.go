package ratelog

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Split(strings.TrimSpace(s.b.String()), "\n")
}

// waitLines waits until buf holds n lines (a bound for a loaded machine, not a timing check).
func waitLines(t *testing.T, buf *syncBuf, n int) []string {
	t.Helper()
	for range 500 {
		if ls := buf.lines(); len(ls) >= n {
			return ls
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("never got %d lines: %q", n, buf.lines())
	return nil
}

// TestFloodIsOneLinePerIntervalWithACount: 1,000 records of one message give the first
// record and, at the end of the interval, one line with suppressed=999 and an example's
// attributes; another message and another level are limited separately.
func TestFloodIsOneLinePerIntervalWithACount(t *testing.T) {
	var buf syncBuf
	log := Logger(slog.New(slog.NewTextHandler(&buf, nil)).With("service", "dhcp"), 200*time.Millisecond)
	for i := range 1000 {
		log.Warn("no address to offer", "mac", i)
	}
	log.Warn("queue full")
	log.Info("no address to offer")
	waitLines(t, &buf, 4)
	// Wait for the quiet interval that ends every window: nothing else may appear.
	h := log.Handler().(*Handler)
	for quiet := false; !quiet; {
		time.Sleep(20 * time.Millisecond)
		h.lim.mu.Lock()
		quiet = len(h.lim.windows) == 0
		h.lim.mu.Unlock()
	}
	ls := buf.lines()
	if len(ls) != 4 {
		t.Fatalf("got %d lines, want 4:\n%s", len(ls), strings.Join(ls, "\n"))
	}
	if !strings.Contains(ls[0], `msg="no address to offer" service=dhcp mac=0`) || strings.Contains(ls[0], SuppressedKey) {
		t.Errorf("first line %q", ls[0])
	}
	if !strings.Contains(ls[1], "queue full") || !strings.Contains(ls[2], "level=INFO") {
		t.Errorf("other messages and levels not passed: %q", ls[1:3])
	}
	if !strings.Contains(ls[3], `level=WARN msg="no address to offer" service=dhcp mac=1 suppressed=999 interval=200ms`) {
		t.Errorf("summary line %q", ls[3])
	}
	// After a quiet interval the message is logged again at once.
	log.Warn("no address to offer", "mac", "again")
	if ls := waitLines(t, &buf, 5); !strings.Contains(ls[4], "mac=again") || strings.Contains(ls[4], SuppressedKey) {
		t.Errorf("after a quiet interval: %q", ls[4])
	}
}
