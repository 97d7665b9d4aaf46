package store

import (
	"encoding/json"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Documents are small named JSON values grouped by kind: the install flow's
// progress ("flow"), PXE boot profiles per MAC ("pxe"), reprovision flags, ...
// The kinds are the callers' business; the store only keeps them apart.

// PutDoc stores v, JSON-encoded, as key of kind, replacing any earlier value.
func (s *Store) PutDoc(kind, key string, v any) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := checkDocName(kind, key); err != nil {
			return err
		}
		b, err := tx.Bucket(bucketDocs).CreateBucketIfNotExists([]byte(kind))
		if err != nil {
			return err
		}
		return putJSON(b, []byte(key), v)
	})
	if err != nil {
		return fmt.Errorf("store: put %s %q: %w", kind, key, err)
	}
	return nil
}

// GetDoc decodes key of kind into v and reports whether it was there (v is
// untouched when it was not).
func (s *Store) GetDoc(kind, key string, v any) (bool, error) {
	var raw []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketDocs).Bucket([]byte(kind)); b != nil {
			raw = slices.Clone(b.Get([]byte(key)))
		}
		return nil
	})
	if err == nil && raw != nil {
		err = json.Unmarshal(raw, v)
	}
	if err != nil {
		return false, fmt.Errorf("store: get %s %q: %w", kind, key, err)
	}
	return raw != nil, nil
}

// DeleteDoc removes key of kind; removing what is not there is not an error.
func (s *Store) DeleteDoc(kind, key string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketDocs).Bucket([]byte(kind)); b != nil && key != "" {
			return b.Delete([]byte(key))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: delete %s %q: %w", kind, key, err)
	}
	return nil
}

// Docs returns every document of kind, by key (an empty map if none).
func (s *Store) Docs(kind string) (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDocs).Bucket([]byte(kind))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			out[string(k)] = slices.Clone(v)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: list %s: %w", kind, err)
	}
	return out, nil
}

func checkDocName(kind, key string) error {
	const max = 1024
	if kind == "" || key == "" || len(kind) > max || len(key) > max {
		return fmt.Errorf("document kind and key must be 1 to %d bytes: %w", max, ErrInvalid)
	}
	return nil
}
