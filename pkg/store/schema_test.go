package store

import (
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// fileSchema reads the schema version recorded in dir/state.db (not open).
func fileSchema(t *testing.T, dir string) int {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
	must(t, err)
	defer db.Close()
	v := -1
	must(t, db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketMeta).Get(keySchema)
		var err error
		v, err = strconv.Atoi(string(raw))
		return err
	}))
	return v
}

// setFileSchema rewrites the schema version in dir/state.db (not open);
// dropJournalKey also removes the lease journal's meta key, as a folder
// written before the journal existed has none.
func setFileSchema(t *testing.T, dir, v string, dropJournalKey bool) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
	must(t, err)
	defer db.Close()
	must(t, db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if dropJournalKey {
			if err := meta.Delete(keyJournalGen); err != nil {
				return err
			}
		}
		return meta.Put(keySchema, []byte(v))
	}))
}

// TestJournalFolderReadsAsNewerToVersion1: a crash image with leases only in
// the journal carries a schema version above 1, so a binary of schema 1
// (which knows no journal, and refuses only versions above its own) refuses
// the folder instead of opening it without those leases.
func TestJournalFolderReadsAsNewerToVersion1(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s, err := Open(dir)
	must(t, err)
	defer s.Close()
	must(t, s.PutLease(numbered(1)))
	img := crashImage(t, dir)
	if end := journalEnd(t, onlyJournal(t, img)); end == 0 {
		t.Fatal("the crash image's journal is empty: the test needs a lease only in the journal")
	}
	if v := fileSchema(t, img); v <= 1 {
		t.Errorf("a folder with a lease journal records schema version %d: a schema-1 binary opens it and does not see the journaled leases", v)
	}
}

// TestOpenMigratesVersion1: folders of schema 1, both as written before the
// lease journal (leases in bbolt only) and after it (with an unfolded
// journal, as a crash leaves it), open with every lease, document and event,
// and record the current version from then on.
func TestOpenMigratesVersion1(t *testing.T) {
	for _, tc := range []struct {
		name    string
		crashed bool // an unfolded journal is left
	}{{"before-journal", false}, {"with-unfolded-journal", true}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			s, err := Open(dir)
			must(t, err)
			for i := range 5 {
				must(t, s.PutLease(numbered(i)))
			}
			must(t, s.PutDoc("flow", "state", map[string]string{"step": "install"}))
			_, err = s.AppendEvent(Event{Message: "cluster registered"})
			must(t, err)
			img := dir
			if tc.crashed {
				img = crashImage(t, dir)
				defer s.Close()
			} else {
				must(t, s.Close())
				if gens, _ := journalFiles(dir); len(gens) != 0 {
					t.Fatalf("journal files %v after Close", gens)
				}
			}
			setFileSchema(t, img, "1", !tc.crashed)

			r, err := Open(img)
			if err != nil {
				t.Fatalf("Open of a schema-1 folder: %v", err)
			}
			got, _ := r.Leases("")
			if len(got) != 5 {
				t.Errorf("%d leases after migration, want 5", len(got))
			}
			for i := range 5 {
				if l, ok, _ := r.Lease("ctrl", numbered(i).MAC); !ok || !leaseEqual(l, numbered(i)) {
					t.Errorf("lease %d = %+v, %v; want %+v", i, l, ok, numbered(i))
				}
			}
			var doc map[string]string
			if ok, err := r.GetDoc("flow", "state", &doc); !ok || err != nil || doc["step"] != "install" {
				t.Errorf("doc after migration = %v, %v, %v", doc, ok, err)
			}
			if evs, err := r.Events(0, 0); err != nil || len(evs) != 1 {
				t.Errorf("events after migration = %+v, %v", evs, err)
			}
			checkIndex(t, r)
			must(t, r.Close())
			if v := fileSchema(t, img); v != SchemaVersion {
				t.Errorf("schema version after migration = %d, want %d", v, SchemaVersion)
			}
		})
	}
}

// TestOpenRefusesOtherSchema: a version this binary cannot read (newer, or
// older than any it migrates, or garbage) is refused with ErrSchema and an
// error naming the state folder, the version found and the one understood;
// the file is left as it was.
func TestOpenRefusesOtherSchema(t *testing.T) {
	for _, tc := range []struct{ raw, want string }{
		{strconv.Itoa(SchemaVersion + 1), "schema version " + strconv.Itoa(SchemaVersion+1)},
		{"0", "schema version 0"},
		{"two", `unreadable schema version "two"`},
	} {
		t.Run(tc.raw, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			s, err := Open(dir)
			must(t, err)
			must(t, s.Close())
			setFileSchema(t, dir, tc.raw, false)
			s, err = Open(dir)
			if err == nil {
				s.Close()
				t.Fatalf("Open of schema %q succeeded", tc.raw)
			}
			if !errors.Is(err, ErrSchema) {
				t.Errorf("error %q is not ErrSchema", err)
			}
			for _, want := range []string{tc.want, "state folder " + dir + " ", strconv.Itoa(SchemaVersion)} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
			must(t, err)
			must(t, db.View(func(tx *bolt.Tx) error {
				if got := string(tx.Bucket(bucketMeta).Get(keySchema)); got != tc.raw {
					t.Errorf("schema rewritten to %q by a refused Open", got)
				}
				return nil
			}))
			db.Close()
			if gens, _ := journalFiles(dir); len(gens) != 0 {
				t.Errorf("a refused Open left journal files %v", gens)
			}
		})
	}
}

// TestEveryOlderSchemaHasAMigration: Open can step every version it accepts
// up to SchemaVersion.
func TestEveryOlderSchemaHasAMigration(t *testing.T) {
	for v := oldestSchemaVersion; v < SchemaVersion; v++ {
		if migrations[v] == nil {
			t.Errorf("no migration from schema version %d to %d", v, v+1)
		}
	}
}
