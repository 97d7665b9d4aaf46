package store

// The lease journal. Lease writes are not bbolt transactions: each call of
// CommitLeases appends one frame per batch to an append-only file,
// leases-<gen>.journal, and returns once one fdatasync made them all durable
// (one fsync of data pages in a preallocated file, where a bbolt commit
// writes and syncs its pages and then its meta page). The store serves lease
// reads from memory (everything in bbolt plus the journal, loaded at Open).
// A background compactor folds the journal into bbolt when it has grown past
// compactAfter bytes, as Kea's LFC folds its memfile: it switches appends to
// a fresh file, writes the leases the old file touched into bbolt in one
// transaction together with the generation the journal continues from
// (meta key lease_journal), then removes the old file. Open replays the
// files at or after that generation, stopping at the first frame that is
// short, zero or fails its checksum (a write the crash tore: never
// acknowledged), folds them in and starts a new file, so a torn tail is
// never appended to.
//
// A frame is: payload length (uint32), CRC-32C of the payload (uint32), the
// payload: the number of ops (uint16), then each op. A frame is one batch:
// after a crash all of its ops are there or none.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

const (
	journalPrefix = "leases-"
	journalSuffix = ".journal"
	// journalChunk is how much file a journal preallocates at a time: an
	// fdatasync of data written inside it need not update the file's size.
	journalChunk = 4 << 20
	maxFrame     = 16 << 20
	frameHeader  = 8
	opPutLease   = 1
	opDelLease   = 2
	zeroTime     = math.MinInt64
)

// compactAfter is the journal size past which the compactor folds it into
// bbolt (a variable so tests can lower it).
var compactAfter int64 = 1 << 20

var (
	keyJournalGen = []byte("lease_journal") // in meta: decimal generation of the first journal file not yet in bbolt
	castagnoli    = crc32.MakeTable(crc32.Castagnoli)
)

// LeaseOp is one lease write: a put of Lease or, with Delete, the removal of
// the lease of Lease.MAC on Lease.Network (other fields ignored).
type LeaseOp struct {
	Delete bool
	Lease  Lease
}

// journalFile is the journal file being appended to.
type journalFile struct {
	f    *os.File
	gen  uint64
	off  int64 // end of the last frame written
	size int64 // preallocated length
}

func journalName(dir string, gen uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%s%016d%s", journalPrefix, gen, journalSuffix))
}

// createJournal creates (truncating) the journal file of gen, preallocated,
// and makes its directory entry durable.
func createJournal(dir string, gen uint64) (*journalFile, error) {
	f, err := os.OpenFile(journalName(dir, gen), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	j := &journalFile{f: f, gen: gen}
	if err := j.grow(journalChunk); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	if err := syncDir(dir); err != nil {
		f.Close()
		return nil, err
	}
	return j, nil
}

// grow preallocates at least n more bytes past off by writing zeros (not
// fallocate: an fdatasync after writing into an unwritten extent must commit
// the extent's conversion to the filesystem journal, which on a busy ext4
// waits for everyone's metadata; overwriting written blocks syncs data
// only).
func (j *journalFile) grow(n int64) error {
	want := (j.off + n + journalChunk - 1) / journalChunk * journalChunk
	if want <= j.size {
		return nil
	}
	zeros := make([]byte, 256<<10)
	for at := j.size; at < want; at += int64(len(zeros)) {
		if _, err := j.f.WriteAt(zeros[:min(int64(len(zeros)), want-at)], at); err != nil {
			return fmt.Errorf("preallocate %s: %w", j.f.Name(), err)
		}
	}
	j.size = want
	return nil
}

// append writes frames at the end of the journal and makes them durable.
func (j *journalFile) append(frames []byte) error {
	if j.off+int64(len(frames)) > j.size {
		if err := j.grow(int64(len(frames))); err != nil {
			return err
		}
	}
	if _, err := j.f.WriteAt(frames, j.off); err != nil {
		return fmt.Errorf("write %s: %w", j.f.Name(), err)
	}
	if err := unix.Fdatasync(int(j.f.Fd())); err != nil {
		return fmt.Errorf("sync %s: %w", j.f.Name(), err)
	}
	j.off += int64(len(frames))
	return nil
}

// appendFrame encodes ops (already validated, canonical) as one frame.
func appendFrame(b []byte, ops []LeaseOp) []byte {
	start := len(b)
	b = append(b, make([]byte, frameHeader)...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(ops)))
	for _, o := range ops {
		l := o.Lease
		if o.Delete {
			b = append(b, opDelLease)
		} else {
			b = append(b, opPutLease)
		}
		b = appendString(b, l.Network)
		hw, _ := net.ParseMAC(l.MAC) // canonical already
		b = append(b, byte(len(hw)))
		b = append(b, hw...)
		if o.Delete {
			continue
		}
		ip := l.IP.As16()
		b = append(b, ip[:]...)
		b = appendString(b, l.Hostname)
		b = binary.BigEndian.AppendUint64(b, uint64(unixNano(l.Start)))
		b = binary.BigEndian.AppendUint64(b, uint64(unixNano(l.Expiry)))
		if l.Reserved {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	}
	payload := b[start+frameHeader:]
	binary.BigEndian.PutUint32(b[start:], uint32(len(payload)))
	binary.BigEndian.PutUint32(b[start+4:], crc32.Checksum(payload, castagnoli))
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return zeroTime
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == zeroTime {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// readFrames decodes the frames of a journal file in order. It stops without
// error at the end of what was written (a zero length) or at a torn frame,
// and returns how many bytes were valid and whether the end was torn.
func readFrames(raw []byte, fn func([]LeaseOp) error) (valid int, torn bool, err error) {
	off := 0
	for off+frameHeader <= len(raw) {
		n := int(binary.BigEndian.Uint32(raw[off:]))
		if n == 0 {
			return off, false, nil
		}
		if n > maxFrame || off+frameHeader+n > len(raw) {
			return off, true, nil
		}
		payload := raw[off+frameHeader : off+frameHeader+n]
		if crc32.Checksum(payload, castagnoli) != binary.BigEndian.Uint32(raw[off+4:]) {
			return off, true, nil
		}
		ops, err := decodeFrame(payload)
		if err != nil {
			// The checksum matched, so this is what was written: not a tear.
			return off, false, fmt.Errorf("frame at offset %d: %w", off, err)
		}
		if err := fn(ops); err != nil {
			return off, false, fmt.Errorf("frame at offset %d: %w", off, err)
		}
		off += frameHeader + n
	}
	return off, off < len(raw) && !allZero(raw[off:]), nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func decodeFrame(p []byte) ([]LeaseOp, error) {
	d := decoder{b: p}
	n := int(d.u16())
	ops := make([]LeaseOp, 0, n)
	for range n {
		var o LeaseOp
		kind := d.byte()
		o.Lease.Network = d.str()
		hw := net.HardwareAddr(d.bytes(int(d.byte())))
		o.Lease.MAC = hw.String()
		switch kind {
		case opDelLease:
			o.Delete = true
		case opPutLease:
			o.Lease.IP = netip.AddrFrom16([16]byte(d.bytes(16))).Unmap()
			o.Lease.Hostname = d.str()
			o.Lease.Start = fromUnixNano(int64(d.u64()))
			o.Lease.Expiry = fromUnixNano(int64(d.u64()))
			o.Lease.Reserved = d.byte() == 1
		default:
			return nil, fmt.Errorf("unknown op %d", kind)
		}
		if d.err != nil {
			return nil, d.err
		}
		ops = append(ops, o)
	}
	if d.err == nil && len(d.b) != 0 {
		return nil, fmt.Errorf("%d bytes after the last op", len(d.b))
	}
	return ops, d.err
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) bytes(n int) []byte {
	if d.err != nil || n > len(d.b) {
		if d.err == nil {
			d.err = errors.New("frame ends inside an op")
		}
		return make([]byte, n)
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}
func (d *decoder) byte() byte  { return d.bytes(1)[0] }
func (d *decoder) u16() uint16 { return binary.BigEndian.Uint16(d.bytes(2)) }
func (d *decoder) u64() uint64 { return binary.BigEndian.Uint64(d.bytes(8)) }
func (d *decoder) str() string { return string(d.bytes(int(d.u16()))) }

// journalFiles lists the generations of the journal files in dir, oldest
// first.
func journalFiles(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var gens []uint64
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, journalPrefix) || !strings.HasSuffix(name, journalSuffix) {
			continue
		}
		g, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, journalPrefix), journalSuffix), 10, 64)
		if err != nil {
			continue
		}
		gens = append(gens, g)
	}
	slices.Sort(gens)
	return gens, nil
}

// recoverLeases loads the leases from bbolt into memory, replays the journal
// files not yet folded in, folds them into bbolt, removes them, and opens a
// fresh journal.
func (s *Store) recoverLeases() error {
	dir := filepath.Dir(s.path)
	var first uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		if raw := tx.Bucket(bucketMeta).Get(keyJournalGen); raw != nil {
			g, err := strconv.ParseUint(string(raw), 10, 64)
			if err != nil {
				return fmt.Errorf("unreadable lease journal generation %q", raw)
			}
			first = g
		}
		return tx.Bucket(bucketLeases).ForEach(func(k, v []byte) error {
			l, err := decodeLease(v)
			if err != nil {
				return fmt.Errorf("key %q: %w", k, err)
			}
			s.mem.set(l)
			return nil
		})
	})
	if err != nil {
		return err
	}
	gens, err := journalFiles(dir)
	if err != nil {
		return err
	}
	next := first
	var replayed []uint64
	for i, g := range gens {
		path := journalName(dir, g)
		if g < first { // folded in already; the crash came before its removal
			if err := os.Remove(path); err != nil {
				return err
			}
			continue
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		_, torn, err := readFrames(raw, func(ops []LeaseOp) error {
			for _, o := range ops {
				if err := s.mem.apply(o, s.dirty); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("lease journal %s: %w", path, err)
		}
		if torn && i != len(gens)-1 {
			return fmt.Errorf("lease journal %s: damaged before its end, and newer journal files follow", path)
		}
		replayed = append(replayed, g)
		next = g + 1
	}
	if len(s.dirty) > 0 || len(replayed) > 0 {
		if err := s.fold(keysOf(s.dirty), next); err != nil {
			return err
		}
		clear(s.dirty)
	}
	for _, g := range replayed {
		if err := os.Remove(journalName(dir, g)); err != nil {
			return err
		}
	}
	if s.jf, err = createJournal(dir, next); err != nil {
		return fmt.Errorf("lease journal: %w", err)
	}
	return nil
}

func keysOf(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// fold writes the in-memory state of keys into bbolt, with next as the
// first journal generation not in it, in one transaction.
func (s *Store) fold(keys []string, next uint64) error {
	s.mu.RLock()
	leases := make([]*Lease, len(keys))
	for i, k := range keys {
		if l, ok := s.mem.leases[k]; ok {
			leases[i] = &l
		}
	}
	s.mu.RUnlock()
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, k := range keys {
			if _, err := deleteLease(tx, []byte(k)); err != nil {
				return err
			}
		}
		for _, l := range leases {
			if l != nil {
				if err := putLease(tx, *l); err != nil {
					return err
				}
			}
		}
		return tx.Bucket(bucketMeta).Put(keyJournalGen, []byte(strconv.FormatUint(next, 10)))
	})
	if err != nil {
		return fmt.Errorf("fold lease journal into %s: %w", s.path, err)
	}
	return nil
}

// runCompactor folds the journal into bbolt whenever CommitLeases asks,
// until Close.
func (s *Store) runCompactor() {
	defer close(s.compacted)
	for range s.compactReq {
		_ = s.compact(false)
	}
}

// compact folds what the journal holds into bbolt: unless final (Close), it
// first switches appends to a new journal file. A failed fold is retried by
// the next compaction; the old files stay until one succeeds.
func (s *Store) compact(final bool) error {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	dir := filepath.Dir(s.path)
	var fresh *journalFile
	if !final {
		s.jmu.Lock()
		cur := s.jf
		s.jmu.Unlock()
		if cur == nil || (cur.off == 0 && len(s.retired) == 0) {
			return nil // closed, or nothing to fold
		}
		gen := cur.gen + 1
		var err error
		if fresh, err = createJournal(dir, gen); err != nil {
			return fmt.Errorf("store: lease journal: %w", err)
		}
	}
	s.jmu.Lock()
	old := s.jf
	keys := keysOf(s.dirty)
	clear(s.dirty)
	s.jf = fresh // nil when final: CommitLeases refuses from now on
	s.jmu.Unlock()
	if old == nil {
		return nil // closed already
	}
	s.retired = append(s.retired, old)
	next := old.gen + 1
	if err := s.fold(keys, next); err != nil {
		s.jmu.Lock()
		for _, k := range keys {
			s.dirty[k] = struct{}{}
		}
		s.jmu.Unlock()
		return err
	}
	for _, r := range s.retired {
		r.f.Close()
		_ = os.Remove(journalName(dir, r.gen))
	}
	s.retired = nil
	return syncDir(dir)
}

// CompactLeases folds the lease journal into the bbolt file now (the
// compactor does it in the background as the journal grows, and Close does
// it last).
func (s *Store) CompactLeases() error { return s.compact(false) }

// memLeases is the lease table the store serves reads from.
type memLeases struct {
	leases map[string]Lease  // leaseKey -> lease
	byIP   map[string]string // leaseIPKey -> mac
}

func newMemLeases() memLeases {
	return memLeases{leases: map[string]Lease{}, byIP: map[string]string{}}
}

func (m memLeases) set(l Lease) {
	k := string(leaseKey(l.Network, l.MAC))
	if old, ok := m.leases[k]; ok && m.byIP[string(leaseIPKey(old.Network, old.IP))] == old.MAC {
		delete(m.byIP, string(leaseIPKey(old.Network, old.IP)))
	}
	m.leases[k] = l
	m.byIP[string(leaseIPKey(l.Network, l.IP))] = l.MAC
}

func (m memLeases) del(key string) {
	old, ok := m.leases[key]
	if !ok {
		return
	}
	if ik := string(leaseIPKey(old.Network, old.IP)); m.byIP[ik] == old.MAC {
		delete(m.byIP, ik)
	}
	delete(m.leases, key)
}

// apply replays a journal op, noting its key in dirty.
func (m memLeases) apply(o LeaseOp, dirty map[string]struct{}) error {
	k := string(leaseKey(o.Lease.Network, o.Lease.MAC))
	dirty[k] = struct{}{}
	if o.Delete {
		m.del(k)
		return nil
	}
	if holder, ok := m.byIP[string(leaseIPKey(o.Lease.Network, o.Lease.IP))]; ok && holder != o.Lease.MAC {
		return fmt.Errorf("%s on %s is leased to %s and to %s: %w", o.Lease.IP, o.Lease.Network, holder, o.Lease.MAC, ErrIPInUse)
	}
	m.set(o.Lease)
	return nil
}
