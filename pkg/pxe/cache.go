package pxe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// Artifact is one file in the boot cache.
type Artifact struct {
	Name   string `json:"name"`             // file name in the cache folder and under /artifacts/
	Size   int64  `json:"size"`             // bytes, checked when fetched
	Origin string `json:"origin,omitempty"` // where it came from (URL without its query, or ISO path)
	Key    string `json:"key,omitempty"`    // identifies the full origin (a hash: URLs may carry tokens)
}

// Manifest describes a filled boot cache: what the discovery script boots.
type Manifest struct {
	Source  string     `json:"source"`
	Kernel  Artifact   `json:"kernel"`
	Initrds []Artifact `json:"initrds"` // in load order; the first is the image's initrd
	Rootfs  Artifact   `json:"rootfs"`
	// KernelArgs are the image's kernel arguments without initrd= and coreos.live.rootfs_url=,
	// which the script sets to the appliance's URLs.
	KernelArgs []string  `json:"kernelArgs"`
	Fetched    time.Time `json:"fetched"`
}

// artifact finds a manifest entry by name.
func (m *Manifest) artifact(name string) (Artifact, bool) {
	for _, a := range append([]Artifact{m.Kernel, m.Rootfs}, m.Initrds...) {
		if a.Name == name && name != "" {
			return a, true
		}
	}
	return Artifact{}, false
}

// Source puts boot artifacts into a cache folder.
type Source interface {
	// Fetch writes the artifacts into dir, each file atomically (a temporary name renamed
	// into place), and returns the manifest. prev is the cache's current manifest (nil if
	// empty), so a source can skip files it already has.
	Fetch(ctx context.Context, dir string, prev *Manifest) (Manifest, error)
	// String names the source in logs.
	String() string
}

const manifestName = "manifest.json"

// Cache is the boot artifact folder.
type Cache struct {
	dir string
	mu  sync.Mutex // one Fill at a time
	cur atomic.Pointer[Manifest]
}

// OpenCache opens (creating) the cache folder and loads its manifest if there is one.
func OpenCache(dir string) (*Cache, error) {
	if dir == "" {
		return nil, errors.New("pxe: open boot cache: no folder")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("pxe: open boot cache: %w", err)
	}
	c := &Cache{dir: dir}
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pxe: open boot cache: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("pxe: open boot cache: read %s: %w", manifestName, err)
	}
	if err := c.check(&m); err != nil {
		return nil, fmt.Errorf("pxe: open boot cache: %w", err)
	}
	c.cur.Store(&m)
	return c, nil
}

// Dir is the cache folder.
func (c *Cache) Dir() string { return c.dir }

// Manifest returns the current manifest, if the cache is filled.
func (c *Cache) Manifest() (Manifest, bool) {
	m := c.cur.Load()
	if m == nil {
		return Manifest{}, false
	}
	return *m, true
}

// Fill fetches from src and, when every file is in place with its size, makes the new
// manifest current. On error the previous manifest stays.
func (c *Cache) Fill(ctx context.Context, src Source) (Manifest, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, err := src.Fetch(ctx, c.dir, c.cur.Load())
	if err != nil {
		return Manifest{}, fmt.Errorf("pxe: fill boot cache from %s: %w", src, err)
	}
	m.Source = src.String()
	if m.Fetched.IsZero() {
		m.Fetched = time.Now().UTC()
	}
	if err := c.check(&m); err != nil {
		return Manifest{}, fmt.Errorf("pxe: fill boot cache from %s: %w", src, err)
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err == nil {
		err = writeFileAtomic(filepath.Join(c.dir, manifestName), b)
	}
	if err != nil {
		return Manifest{}, fmt.Errorf("pxe: fill boot cache from %s: write manifest: %w", src, err)
	}
	c.cur.Store(&m)
	return m, nil
}

// check makes sure every artifact of m is in the folder with its size.
func (c *Cache) check(m *Manifest) error {
	if m.Kernel.Name == "" || len(m.Initrds) == 0 || m.Rootfs.Name == "" {
		return errors.New("manifest lacks a kernel, initrd or rootfs")
	}
	for _, a := range append([]Artifact{m.Kernel, m.Rootfs}, m.Initrds...) {
		if _, err := oneElement(a.Name); err != nil || a.Name == manifestName {
			return fmt.Errorf("artifact name %q: %w", a.Name, errBadName)
		}
		fi, err := os.Stat(filepath.Join(c.dir, a.Name))
		if err != nil {
			return fmt.Errorf("artifact %s: %w", a.Name, err)
		}
		if fi.Size() != a.Size {
			return fmt.Errorf("artifact %s: %d bytes in the cache, want %d", a.Name, fi.Size(), a.Size)
		}
	}
	return nil
}

// path is the file of an artifact in the current manifest.
func (c *Cache) path(name string) (string, bool) {
	m := c.cur.Load()
	if m == nil {
		return "", false
	}
	if _, ok := m.artifact(name); !ok {
		return "", false
	}
	return filepath.Join(c.dir, name), true
}

// writeFileAtomic writes b to a temporary file next to name, syncs it and renames it.
func writeFileAtomic(name string, b []byte) error {
	return copyFileAtomic(name, func(w io.Writer) (int64, error) {
		n, err := w.Write(b)
		return int64(n), err
	}, int64(len(b)))
}

// copyFileAtomic writes a file through write into a temporary name, checks its size (want
// < 0: any), syncs it and renames it into place.
func copyFileAtomic(name string, write func(io.Writer) (int64, error), want int64) error {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after a successful rename there is nothing left to remove
	n, err := write(f)
	if err == nil && want >= 0 && n != want {
		err = fmt.Errorf("wrote %d bytes, want %d", n, want)
	}
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(f.Name(), name)
}
