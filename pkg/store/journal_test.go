package store

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// journalGen is the first journal generation not folded into bbolt.
func journalGen(t *testing.T, s *Store) uint64 {
	t.Helper()
	var g uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		if raw := tx.Bucket(bucketMeta).Get(keyJournalGen); raw != nil {
			var err error
			g, err = strconv.ParseUint(string(raw), 10, 64)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// crashImage copies the state folder of a store that is still open, as a
// crash would leave it (every acknowledged write is in these files), into a
// new folder.
func crashImage(t *testing.T, dir string) string {
	t.Helper()
	img := filepath.Join(t.TempDir(), "image")
	must(t, os.MkdirAll(img, 0o700))
	ents, err := os.ReadDir(dir)
	must(t, err)
	for _, e := range ents {
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		must(t, err)
		must(t, os.WriteFile(filepath.Join(img, e.Name()), raw, 0o600))
	}
	return img
}

// onlyJournal returns the path of the folder's one journal file.
func onlyJournal(t *testing.T, dir string) string {
	t.Helper()
	gens, err := journalFiles(dir)
	must(t, err)
	if len(gens) != 1 {
		t.Fatalf("%d journal files in %s, want 1", len(gens), dir)
	}
	return journalName(dir, gens[0])
}

// journalEnd is the length of the frames written to a journal file.
func journalEnd(t *testing.T, path string) int {
	t.Helper()
	raw, err := os.ReadFile(path)
	must(t, err)
	end, torn, err := readFrames(raw, func([]LeaseOp) error { return nil })
	if err != nil || torn {
		t.Fatalf("%s: torn %v, %v", path, torn, err)
	}
	return end
}

func numbered(i int) Lease {
	return lease("ctrl", fmt.Sprintf("02:00:00:00:%02x:%02x", byte(i>>8), byte(i)), fmt.Sprintf("172.16.%d.%d", i/200, 10+i%200), time.Hour)
}

// TestJournalTornTail: a crash that tears the last frame (cut short, or
// bytes that fail the checksum) loses that frame only; the rest replays,
// the store keeps working, and the torn bytes are never appended to.
func TestJournalTornTail(t *testing.T) {
	for _, tear := range []string{"cut", "flip"} {
		t.Run(tear, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			s, err := Open(dir)
			must(t, err)
			defer s.Close()
			for i := range 5 {
				must(t, s.PutLease(numbered(i)))
			}
			path := onlyJournal(t, dir)
			before := journalEnd(t, path)
			must(t, s.PutLease(numbered(5))) // the frame the crash tears
			after := journalEnd(t, path)

			img := crashImage(t, dir)
			ipath := filepath.Join(img, filepath.Base(path))
			raw, err := os.ReadFile(ipath)
			must(t, err)
			switch tear {
			case "cut": // the write stopped part way: zeros from there on
				clear(raw[before+(after-before)/2 : after])
			case "flip":
				raw[after-3] ^= 0xff
			}
			must(t, os.WriteFile(ipath, raw, 0o600))

			r, err := Open(img)
			if err != nil {
				t.Fatalf("open after a torn tail: %v", err)
			}
			for i := range 5 {
				if _, ok, _ := r.Lease("ctrl", numbered(i).MAC); !ok {
					t.Errorf("lease %d lost", i)
				}
			}
			if _, ok, _ := r.Lease("ctrl", numbered(5).MAC); ok {
				t.Error("the torn lease was replayed")
			}
			must(t, r.PutLease(numbered(6)))
			if _, err := os.Stat(ipath); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the torn journal %s is still there: %v", ipath, err)
			}
			must(t, r.Close())
			r, err = Open(img)
			must(t, err)
			defer r.Close()
			if got, _ := r.Leases(""); len(got) != 6 {
				t.Errorf("%d leases after a clean reopen, want 6 (0-4 and 6)", len(got))
			}
			checkIndex(t, r)
		})
	}
}

// TestJournalDamagedBeforeNewerFile: damage inside a journal file that a
// newer one follows is not a torn tail: Open refuses, naming the file.
func TestJournalDamagedBeforeNewerFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s, err := Open(dir)
	must(t, err)
	defer s.Close()
	must(t, s.PutLease(numbered(0)))
	must(t, s.PutLease(numbered(1)))
	img := crashImage(t, dir)
	old := onlyJournal(t, img)
	raw, err := os.ReadFile(old)
	must(t, err)
	gens, _ := journalFiles(img)
	must(t, os.WriteFile(journalName(img, gens[0]+1), raw, 0o600))
	raw[journalEnd(t, old)-2] ^= 0xff
	must(t, os.WriteFile(old, raw, 0o600))
	if r, err := Open(img); err == nil || !strings.Contains(err.Error(), filepath.Base(old)) {
		if err == nil {
			r.Close()
		}
		t.Fatalf("Open = %v, want an error naming %s", err, filepath.Base(old))
	}
}

// TestCompactionFoldsJournal: a compaction writes the journal's leases into
// bbolt, records the generation and removes the folded file; appends go on
// in the next file, and a reopen has everything. The background compactor
// does the same once the journal passes compactAfter.
func TestCompactionFoldsJournal(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s, err := Open(dir)
	must(t, err)
	for i := range 20 {
		must(t, s.PutLease(numbered(i)))
	}
	must(t, s.DeleteLease("ctrl", numbered(3).MAC))
	moved := numbered(4)
	moved.IP = netip.MustParseAddr("172.16.9.9")
	must(t, s.PutLease(moved))
	first := filepath.Base(onlyJournal(t, dir))
	g0 := journalGen(t, s)
	must(t, s.CompactLeases())
	if g := journalGen(t, s); g != g0+1 {
		t.Errorf("generation %d after a compaction, want %d", g, g0+1)
	}
	if now := filepath.Base(onlyJournal(t, dir)); now == first {
		t.Errorf("still appending to %s", now)
	}
	if journalEnd(t, onlyJournal(t, dir)) != 0 {
		t.Error("the new journal file is not empty")
	}
	checkIndex(t, s) // bbolt and memory agree: 19 leases, the moved one at its new IP
	if l, ok, _ := s.LeaseByIP("ctrl", moved.IP); !ok || l.MAC != moved.MAC {
		t.Errorf("moved lease: %+v %v", l, ok)
	}

	old := compactAfter
	compactAfter = 512
	defer func() { compactAfter = old }()
	g1 := journalGen(t, s)
	for i := 100; i < 130; i++ { // ~2 KiB of frames
		must(t, s.PutLease(numbered(i)))
	}
	for range 1200 { // waits for the compactor; not a timing check
		if journalGen(t, s) > g1 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if journalGen(t, s) == g1 {
		t.Error("the background compactor never folded the journal")
	}
	must(t, s.Close())
	gens, _ := journalFiles(dir)
	if len(gens) != 0 {
		t.Errorf("journal files %v left after Close", gens)
	}
	s, err = Open(dir)
	must(t, err)
	defer s.Close()
	if got, _ := s.Leases(""); len(got) != 49 {
		t.Errorf("%d leases after reopen, want 49", len(got))
	}
	checkIndex(t, s)
}

// TestRecoveryReplaysUnfoldedJournal: a crash image taken before any
// compaction, and one taken after a compaction but with newer frames,
// both reopen with every acknowledged lease, deletes and moves applied.
func TestRecoveryReplaysUnfoldedJournal(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s, err := Open(dir)
	must(t, err)
	defer s.Close()
	want := map[string]Lease{}
	put := func(l Lease) {
		must(t, s.PutLease(l))
		want[l.MAC] = l
	}
	for i := range 10 {
		put(numbered(i))
	}
	check := func(img string) {
		t.Helper()
		r, err := Open(img)
		must(t, err)
		defer r.Close()
		got, _ := r.Leases("")
		if len(got) != len(want) {
			t.Errorf("%s: %d leases, want %d", img, len(got), len(want))
		}
		for _, l := range got {
			if !leaseEqual(l, want[l.MAC]) {
				t.Errorf("%s: %+v, want %+v", img, l, want[l.MAC])
			}
		}
		checkIndex(t, r)
	}
	check(crashImage(t, dir))
	must(t, s.CompactLeases())
	must(t, s.DeleteLease("ctrl", numbered(2).MAC))
	delete(want, numbered(2).MAC)
	m := numbered(5)
	m.IP = numbered(2).IP // takes the address the delete freed
	put(m)
	check(crashImage(t, dir))
}

// TestCommitLeasesRefusesABatchAlone: in one call, a batch that would give
// an address twice is refused and the others are written; a batch may take
// an address an earlier batch of the same call freed.
func TestCommitLeasesRefusesABatchAlone(t *testing.T) {
	s := openTemp(t)
	a, b, c := numbered(1), numbered(2), numbered(3)
	c.IP = a.IP
	b2 := numbered(2)
	b2.IP = a.IP
	errs := s.CommitLeases([][]LeaseOp{
		{{Lease: a}},
		{{Lease: b}, {Lease: c}}, // c wants a's address: the whole batch goes
		{{Delete: true, Lease: a}},
		{{Lease: b2}}, // a's address, freed by the batch before
	})
	if errs[0] != nil || !errors.Is(errs[1], ErrIPInUse) || errs[2] != nil || errs[3] != nil {
		t.Fatalf("errs = %v", errs)
	}
	got, _ := s.Leases("")
	if len(got) != 1 || got[0].MAC != b2.MAC || got[0].IP != a.IP {
		t.Errorf("leases %+v, want only %s at %s", got, b2.MAC, a.IP)
	}
	if _, ok, _ := s.Lease("ctrl", c.MAC); ok {
		t.Error("the refused batch's lease was written")
	}
	checkIndex(t, s)
}
