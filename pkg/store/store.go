// Package store is the appliance's persistence: one bbolt file, state.db, and
// a lease journal (leases-<gen>.journal, see journal.go) in the state folder
// it is given. It owns those files and nothing else.
//
// It holds DHCP leases (with an index from network+IP to MAC that keeps one
// address from being given to two clients), small named JSON documents (the
// install flow's progress, PXE boot profiles per MAC, "needs reprovision"
// flags, ...), and a bounded event log.
//
// A write is durable when the call returns: documents and events are bbolt
// transactions committed with fsync; lease writes are appended to the lease
// journal and fdatasync'd (several batches per sync with CommitLeases), and
// folded into bbolt in the background. The store knows nothing of the other
// packages: its types are plain values, it does not import project packages,
// it does not choose the state folder (the CLI does), and it does not decide
// policy (which IP a client gets, when a lease may be taken over): it records
// what the services decide and refuses only what would corrupt its own
// invariants.
//
// A Store is safe for concurrent use. Only one process may open a state
// folder at a time (bbolt holds an exclusive flock on state.db).
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// FileName is the name of the database file inside the state folder.
const FileName = "state.db"

// SchemaVersion is the layout version written to the meta bucket.
//
//   - 1: leases, their IP index, documents and events in state.db.
//   - 2: 1 plus the lease journal (leases-<gen>.journal beside state.db, and
//     meta key lease_journal): a lease may be only in a journal file until it
//     is folded in, so a binary that knows no journal must not open the
//     folder. Binaries of schema 1 refuse any version above their own, so
//     they refuse a folder of schema 2.
//
// Open refuses a file of a newer version, or one older than
// oldestSchemaVersion, with ErrSchema; an older one it can read it migrates
// (see migrations) and records SchemaVersion before it writes anything else.
const SchemaVersion = 2

// oldestSchemaVersion is the oldest layout Open migrates.
const oldestSchemaVersion = 1

// migrations[v] turns a file of schema v into one of v+1, inside the
// transaction that records the new version.
var migrations = map[int]func(*bolt.Tx) error{
	// 1 -> 2: the buckets are unchanged; a folder of schema 1 has no
	// journal files and no lease_journal key, which reads as "nothing
	// journaled, start at generation 0". (A folder written by a build that
	// had the journal but still said 1 has both, and replays the same way.)
	1: func(*bolt.Tx) error { return nil },
}

// Errors callers may test with errors.Is.
var (
	// ErrInUse: another process holds the state folder's lock.
	ErrInUse = errors.New("state folder is locked by another process")
	// ErrIPInUse: the IP is already leased to another MAC on that network.
	ErrIPInUse = errors.New("ip already leased to another mac")
	// ErrInvalid: an argument cannot be stored (bad MAC, empty name, ...).
	ErrInvalid = errors.New("invalid argument")
	// ErrSchema: the state folder was written in a layout this binary cannot
	// read (newer than it, or older than any it migrates).
	ErrSchema = errors.New("state folder schema not understood")
)

// lockTimeout is how long Open waits for the file lock (a variable so tests
// can shorten it).
var lockTimeout = 2 * time.Second

var (
	bucketMeta      = []byte("meta")
	bucketLeases    = []byte("leases")    // network\x00mac -> leaseRecord JSON
	bucketLeaseByIP = []byte("leases_ip") // network\x00ip(16 bytes) -> mac
	bucketDocs      = []byte("docs")      // nested bucket per kind: key -> JSON
	bucketEvents    = []byte("events")    // seq (8 bytes big endian) -> eventRecord JSON
	keySchema       = []byte("schema")    // in meta: decimal SchemaVersion
	allBuckets      = [][]byte{bucketMeta, bucketLeases, bucketLeaseByIP, bucketDocs, bucketEvents}
)

// Store is an open state folder.
type Store struct {
	db        *bolt.DB
	path      string
	maxEvents int

	// Leases: served from mem (guarded by mu); written by holders of jmu
	// only, so under jmu mem may be read without mu.
	mu    sync.RWMutex
	mem   memLeases
	jmu   sync.Mutex
	jf    *journalFile        // nil once closed
	jerr  error               // a failed journal write: every later write fails
	dirty map[string]struct{} // lease keys changed since the last fold

	cmu        sync.Mutex     // one compaction at a time
	retired    []*journalFile // switched away from, not yet folded
	compactReq chan struct{}
	compacted  chan struct{} // closed when the compactor has returned
	closeOnce  sync.Once
}

// Open opens (creating if needed) the state folder dir (mode 0700) and its
// database dir/state.db (mode 0600). If another process holds the folder, Open
// gives up after a short wait with an error wrapping ErrInUse.
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, fmt.Errorf("store: open: empty state folder path: %w", ErrInvalid)
	}
	_, statErr := os.Stat(dir)
	created := errors.Is(statErr, os.ErrNotExist)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create state folder: %w", err)
	}
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("store: open %s: state folder %s is in use by another cn2-appliance (no lock within %s): %w",
			path, dir, lockTimeout, ErrInUse)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s := &Store{db: db, path: path, maxEvents: MaxEvents, mem: newMemLeases(), dirty: map[string]struct{}{},
		compactReq: make(chan struct{}, 1), compacted: make(chan struct{})}
	if err := s.init(); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.recoverLeases(); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	go s.runCompactor()
	// Make the new file's (and folder's) directory entry durable too.
	if err := syncDir(dir); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if created {
		if err := syncDir(filepath.Dir(filepath.Clean(dir))); err != nil {
			db.Close()
			return nil, fmt.Errorf("store: open %s: %w", path, err)
		}
	}
	return s, nil
}

// init creates the buckets and checks, migrates or writes the schema
// version. A refusal changes nothing (the transaction is rolled back).
func (s *Store) init() error {
	dir := filepath.Dir(s.path)
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		meta := tx.Bucket(bucketMeta)
		raw := meta.Get(keySchema)
		if raw == nil {
			return meta.Put(keySchema, []byte(strconv.Itoa(SchemaVersion)))
		}
		v, err := strconv.Atoi(string(raw))
		switch {
		case err != nil:
			return fmt.Errorf("state folder %s has an unreadable schema version %q (this cn2-appliance reads versions %d to %d): %w",
				dir, raw, oldestSchemaVersion, SchemaVersion, ErrSchema)
		case v > SchemaVersion:
			return fmt.Errorf("state folder %s has schema version %d, newer than this cn2-appliance understands (%d): use the cn2-appliance that wrote it, or a newer one: %w",
				dir, v, SchemaVersion, ErrSchema)
		case v < oldestSchemaVersion:
			return fmt.Errorf("state folder %s has schema version %d, older than this cn2-appliance migrates (%d to %d): %w",
				dir, v, oldestSchemaVersion, SchemaVersion, ErrSchema)
		}
		if v == SchemaVersion {
			return nil // nothing to migrate, nothing to write
		}
		for ; v < SchemaVersion; v++ {
			if err := migrations[v](tx); err != nil {
				return fmt.Errorf("state folder %s: migrate schema version %d to %d: %w", dir, v, v+1, err)
			}
		}
		return meta.Put(keySchema, []byte(strconv.Itoa(SchemaVersion)))
	})
	if err != nil {
		return fmt.Errorf("store: open %s: %w", s.path, err)
	}
	return nil
}

// Close folds the lease journal into the bbolt file, then releases the
// files and the lock.
func (s *Store) Close() error {
	var ferr error
	s.closeOnce.Do(func() {
		close(s.compactReq)
		<-s.compacted
		if err := s.compact(true); err != nil {
			ferr = fmt.Errorf("store: close %s: %w", s.path, err) // the journal stays: the next Open replays it
		}
		for _, r := range s.retired {
			r.f.Close()
		}
	})
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close %s: %w", s.path, err)
	}
	return ferr
}

// Path is the database file's path (dir/state.db).
func (s *Store) Path() string { return s.path }

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return nil
}

// putJSON marshals v under key in b.
func putJSON(b *bolt.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	return b.Put(key, raw)
}
