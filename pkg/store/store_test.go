package store

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// openTemp opens a store in a fresh folder and closes it at the end of t.
func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// checkIndex asserts the file passes bbolt's own consistency check and the
// IP index and the leases agree one to one.
func checkIndex(t *testing.T, s *Store) {
	t.Helper()
	if err := s.CompactLeases(); err != nil {
		t.Fatal(err)
	}
	inMemory, err := s.Leases("")
	if err != nil {
		t.Fatal(err)
	}
	inBolt := 0
	err = s.db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			t.Errorf("bbolt check: %v", err)
		}
		leases, byIP := tx.Bucket(bucketLeases), tx.Bucket(bucketLeaseByIP)
		if nl, ni := leases.Stats().KeyN, byIP.Stats().KeyN; nl != ni {
			t.Errorf("%d leases but %d index entries", nl, ni)
		}
		return leases.ForEach(func(k, v []byte) error {
			l, err := decodeLease(v)
			if err != nil {
				return err
			}
			if got := string(byIP.Get(leaseIPKey(l.Network, l.IP))); got != l.MAC {
				t.Errorf("index for %s on %s names %q, want %s", l.IP, l.Network, got, l.MAC)
			}
			if m, ok, _ := s.Lease(l.Network, l.MAC); !ok || !leaseEqual(m, l) {
				t.Errorf("bbolt holds %+v, memory %+v (%v)", l, m, ok)
			}
			inBolt++
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if inBolt != len(inMemory) {
		t.Errorf("bbolt holds %d leases after compaction, memory %d", inBolt, len(inMemory))
	}
}

func TestOpenCreatesPrivateFolderAndFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "state")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if want := filepath.Join(dir, FileName); s.Path() != want {
		t.Errorf("Path() = %q, want %q", s.Path(), want)
	}
	for path, mode := range map[string]os.FileMode{dir: 0o700, s.Path(): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got&^mode != 0 {
			t.Errorf("%s has mode %v, want at most %v", path, got, mode)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	notDB := t.TempDir()
	if err := os.WriteFile(filepath.Join(notDB, FileName), []byte(strings.Repeat("not a database\n", 500)), 0o600); err != nil {
		t.Fatal(err)
	}
	fileAsDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(fileAsDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, dir, want string }{
		{"empty path", "", "empty state folder path"},
		{"not a bbolt file", notDB, "store: open " + filepath.Join(notDB, FileName)},
		{"folder is a file", fileAsDir, "store: create state folder"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(tc.dir)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestOpenLockedFolder(t *testing.T) {
	defer func(d time.Duration) { lockTimeout = d }(lockTimeout)
	lockTimeout = 200 * time.Millisecond
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// flock locks belong to the open file, so a second Open in this process
	// contends like a second daemon would.
	s2, err := Open(dir)
	if err == nil {
		s2.Close()
		t.Fatal("second Open of a locked folder succeeded")
	}
	if !errors.Is(err, ErrInUse) {
		t.Errorf("error %v does not wrap ErrInUse", err)
	}
	if want := "state folder " + dir + " is in use by another cn2-appliance"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	// Once the holder closes, the folder opens.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s3, err := Open(dir)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	s3.Close()
}

func TestReopenKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	lease := Lease{Network: "ctrl", MAC: "52:54:00:00:00:11", IP: netip.MustParseAddr("172.16.0.11"),
		Hostname: "master-0", Start: start, Expiry: start.Add(time.Hour), Reserved: true}
	type flow struct{ Step, Cluster string }
	if err := s.PutLease(lease); err != nil {
		t.Fatal(err)
	}
	if err := s.PutDoc("flow", "state", flow{"install", "c-1"}); err != nil {
		t.Fatal(err)
	}
	seq, err := s.AppendEvent(Event{Time: start, Level: "info", Source: "ai", Message: "cluster registered"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, ok, err := s.LeaseByIP("ctrl", lease.IP); err != nil || !ok || !leaseEqual(got, lease) {
		t.Errorf("lease after reopen = %+v, %v, %v; want %+v", got, ok, err, lease)
	}
	var f flow
	if ok, err := s.GetDoc("flow", "state", &f); err != nil || !ok || f != (flow{"install", "c-1"}) {
		t.Errorf("doc after reopen = %+v, %v, %v", f, ok, err)
	}
	evs, err := s.Events(0, 0)
	if err != nil || len(evs) != 1 || evs[0].Seq != seq || evs[0].Message != "cluster registered" || !evs[0].Time.Equal(start) {
		t.Errorf("events after reopen = %+v, %v", evs, err)
	}
	// Sequence numbers continue, never reused.
	if next, err := s.AppendEvent(Event{Message: "restarted"}); err != nil || next != seq+1 {
		t.Errorf("next seq = %d, %v; want %d", next, err, seq+1)
	}
}
