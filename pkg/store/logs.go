package store

import (
	"encoding/json"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Keyed logs are bounded, append-only lists of small JSON entries, one list per key, grouped
// by kind (the per-node timeline is kind "timeline", key the node's name). Appending beyond a
// list's bound drops its oldest entries. The kinds, keys and entries are the callers' business.

var bucketLogs = []byte("logs") // nested: kind -> key -> seq (8 bytes big endian) -> JSON

// AppendLogs appends, in one durable transaction, every entry of batch (key -> entries, oldest
// first) to its key's list of kind, and keeps the newest keep entries of each list it touched
// (keep <= 0: all of them).
func (s *Store) AppendLogs(kind string, batch map[string][]any, keep int) error {
	if len(batch) == 0 {
		return nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		logs, err := tx.CreateBucketIfNotExists(bucketLogs)
		if err != nil {
			return err
		}
		if err := checkDocName(kind, "-"); err != nil {
			return err
		}
		kb, err := logs.CreateBucketIfNotExists([]byte(kind))
		if err != nil {
			return err
		}
		for key, entries := range batch {
			if err := checkDocName(kind, key); err != nil {
				return err
			}
			b, err := kb.CreateBucketIfNotExists([]byte(key))
			if err != nil {
				return err
			}
			var newest uint64
			for _, e := range entries {
				if newest, err = b.NextSequence(); err != nil {
					return err
				}
				if err := putJSON(b, seqKey(newest), e); err != nil {
					return err
				}
			}
			if err := pruneEvents(b, newest, keep); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: append to %s logs: %w", kind, err)
	}
	return nil
}

// Log returns the entries of key's list of kind, oldest first (nil when there is none).
func (s *Store) Log(kind, key string) ([]json.RawMessage, error) {
	var out []json.RawMessage
	err := s.db.View(func(tx *bolt.Tx) error {
		b := logBucket(tx, kind, key)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			if len(k) != 8 {
				return fmt.Errorf("entry key %x is not a sequence number", k)
			}
			out = append(out, slices.Clone(v))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: read %s log %q: %w", kind, key, err)
	}
	return out, nil
}

// LogKeys returns the keys that have a list of kind, sorted.
func (s *Store) LogKeys(kind string) ([]string, error) {
	var out []string
	err := s.db.View(func(tx *bolt.Tx) error {
		logs := tx.Bucket(bucketLogs)
		if logs == nil {
			return nil
		}
		kb := logs.Bucket([]byte(kind))
		if kb == nil {
			return nil
		}
		return kb.ForEachBucket(func(k []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: list %s logs: %w", kind, err)
	}
	return out, nil
}

func logBucket(tx *bolt.Tx, kind, key string) *bolt.Bucket {
	logs := tx.Bucket(bucketLogs)
	if logs == nil {
		return nil
	}
	kb := logs.Bucket([]byte(kind))
	if kb == nil {
		return nil
	}
	return kb.Bucket([]byte(key))
}
