package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// MaxEvents is how many events the log keeps: appending beyond it drops the
// oldest, so the file does not grow forever.
const MaxEvents = 10000

// Event is one entry of the event log.
type Event struct {
	Seq     uint64    // assigned by the store, increasing from 1, never reused
	Time    time.Time // set to now by AppendEvent when zero
	Level   string    // "info", "warn", "error"
	Source  string    // the service: "dhcp", "ai", "bmc", ...
	Node    string    // the node concerned, if any
	Message string
}

type eventRecord struct {
	Time    time.Time `json:"time"`
	Level   string    `json:"level,omitempty"`
	Source  string    `json:"source,omitempty"`
	Node    string    `json:"node,omitempty"`
	Message string    `json:"message"`
}

// AppendEvent adds e to the log (e.Seq is ignored) and returns its sequence
// number.
func (s *Store) AppendEvent(e Event) (uint64, error) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	var seq uint64
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketEvents)
		var err error
		if seq, err = b.NextSequence(); err != nil {
			return err
		}
		rec := eventRecord{Time: e.Time.UTC(), Level: e.Level, Source: e.Source, Node: e.Node, Message: e.Message}
		if err := putJSON(b, seqKey(seq), rec); err != nil {
			return err
		}
		return pruneEvents(b, seq, s.maxEvents)
	})
	if err != nil {
		return 0, fmt.Errorf("store: append event from %s: %w", e.Source, err)
	}
	return seq, nil
}

// pruneEvents deletes the events older than the newest max, given the
// newest sequence number.
func pruneEvents(b *bolt.Bucket, newest uint64, max int) error {
	if max <= 0 || newest <= uint64(max) {
		return nil
	}
	oldestKept := newest - uint64(max) + 1
	var drop [][]byte
	c := b.Cursor()
	for k, _ := c.First(); k != nil && binary.BigEndian.Uint64(k) < oldestKept; k, _ = c.Next() {
		drop = append(drop, slices.Clone(k))
	}
	for _, k := range drop {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// Events returns up to limit events with Seq > afterSeq, oldest first
// (limit <= 0: all of them). Events(0, n) starts at the oldest kept; a poller
// passes the last Seq it saw.
func (s *Store) Events(afterSeq uint64, limit int) ([]Event, error) {
	var out []Event
	if afterSeq == math.MaxUint64 {
		return nil, nil
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEvents).Cursor()
		for k, v := c.Seek(seqKey(afterSeq + 1)); k != nil; k, v = c.Next() {
			if limit > 0 && len(out) == limit {
				break
			}
			e, err := decodeEvent(k, v)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: list events after %d: %w", afterSeq, err)
	}
	return out, nil
}

// RecentEvents returns the newest n events, oldest first (for a status page).
func (s *Store) RecentEvents(n int) ([]Event, error) {
	var out []Event
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEvents).Cursor()
		for k, v := c.Last(); k != nil && len(out) < n; k, v = c.Prev() {
			e, err := decodeEvent(k, v)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: list the %d newest events: %w", n, err)
	}
	slices.Reverse(out)
	return out, nil
}

func decodeEvent(k, v []byte) (Event, error) {
	if len(k) != 8 {
		return Event{}, fmt.Errorf("event key %x is not a sequence number", k)
	}
	var r eventRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return Event{}, fmt.Errorf("decode event %d: %w", binary.BigEndian.Uint64(k), err)
	}
	return Event{
		Seq: binary.BigEndian.Uint64(k), Time: r.Time, Level: r.Level,
		Source: r.Source, Node: r.Node, Message: r.Message,
	}, nil
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }
