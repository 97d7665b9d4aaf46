package pxe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/atomicfile"
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

const (
	manifestName = "manifest.json"
	imageName    = "image" // the identity of the image the cache holds files of
)

// Cache is the boot artifact folder. Every file in it belongs to one discovery image, whose
// identity it keeps (see FillImage): files of two images are never mixed.
type Cache struct {
	dir   string
	mu    sync.Mutex // one Fill, Download or Invalidate at a time
	cur   atomic.Pointer[Manifest]
	image atomic.Pointer[string]
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
	image, err := os.ReadFile(filepath.Join(dir, imageName))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("pxe: open boot cache: %w", err)
	}
	c.image.Store(ptrTo(string(image)))
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

// Image is the identity of the image the cache holds files of ("" when none was given).
func (c *Cache) Image() string {
	if p := c.image.Load(); p != nil {
		return *p
	}
	return ""
}

// InvalidateCache drops every file of the cache folder dir, as Cache.Invalidate does, without
// opening the cache (its manifest may be incomplete): for an appliance that is not running.
func InvalidateCache(dir string) error {
	if dir == "" {
		return errors.New("pxe: invalidate the boot cache: no folder")
	}
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return (&Cache{dir: dir}).Invalidate()
}

// Fill fetches from src and, when every file is in place with its size, makes the new
// manifest current. On error the previous manifest stays. It keeps the cache's image: use it
// for a source of the same image (an ISO the cache holds), FillImage otherwise.
func (c *Cache) Fill(ctx context.Context, src Source) (Manifest, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fill(ctx, src)
}

// FillImage is Fill for the discovery image identified by image. When the cache holds
// another image's files (artifacts, partial downloads, the ISO), they are dropped first, and
// nodes wait for the new artifacts instead of booting the old image.
func (c *Cache) FillImage(ctx context.Context, image string, src Source) (Manifest, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.claim(image); err != nil {
		return Manifest{}, fmt.Errorf("pxe: fill boot cache from %s: %w", src, err)
	}
	return c.fill(ctx, src)
}

// Download downloads src into the cache as name (the ISO, say) for the image identified by
// image, dropping another image's files first as FillImage does. A partial download is
// resumed only when the server validates it (If-Range). client nil means
// http.DefaultClient. It returns the file's path.
func (c *Cache) Download(ctx context.Context, client *http.Client, image, name, src string) (string, error) {
	if _, err := oneElement(name); err != nil || reservedName(name) {
		return "", fmt.Errorf("pxe: download into the boot cache: file name %q: %w", name, errBadName)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.claim(image); err != nil {
		return "", fmt.Errorf("pxe: download %s into the boot cache: %w", name, err)
	}
	dst := filepath.Join(c.dir, name)
	if _, err := DownloadFile(ctx, client, src, dst); err != nil {
		return "", fmt.Errorf("pxe: download %s into the boot cache: %w", name, err)
	}
	return dst, nil
}

// Invalidate drops every file of the cache (artifacts, manifest, partial downloads, the ISO)
// and its image: the next fill starts from nothing, and until then nodes wait.
func (c *Cache) Invalidate() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.drop(); err != nil {
		return fmt.Errorf("pxe: invalidate the boot cache: %w", err)
	}
	return nil
}

// claim makes image the cache's image, dropping the files of another one. An empty image
// is refused: it would match a cache that was never told its image.
func (c *Cache) claim(image string) error {
	if image == "" {
		return errors.New("no image identity")
	}
	if image == c.Image() {
		return nil
	}
	if err := c.drop(); err != nil {
		return fmt.Errorf("drop the files of image %q: %w", c.Image(), err)
	}
	// Written last: a crash while dropping leaves the old identity, and the next claim drops again.
	if err := writeFileAtomic(filepath.Join(c.dir, imageName), []byte(image)); err != nil {
		return err
	}
	c.image.Store(&image)
	return nil
}

// drop stops serving the manifest and removes every file of the folder (it is the cache's
// own), the image identity last.
func (c *Cache) drop() error {
	c.cur.Store(nil)
	if err := removeIfExists(filepath.Join(c.dir, manifestName)); err != nil {
		return err
	}
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Type().IsRegular() && e.Name() != imageName {
			if err := removeIfExists(filepath.Join(c.dir, e.Name())); err != nil {
				return err
			}
		}
	}
	if err := removeIfExists(filepath.Join(c.dir, imageName)); err != nil {
		return err
	}
	c.image.Store(ptrTo(""))
	return nil
}

// reservedName says whether name is one of the cache's own bookkeeping files.
func reservedName(name string) bool {
	return name == manifestName || name == imageName || strings.HasSuffix(name, ".part") || strings.HasSuffix(name, ".validator")
}

func ptrTo[T any](v T) *T { return &v }

func (c *Cache) fill(ctx context.Context, src Source) (Manifest, error) {
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
		if _, err := oneElement(a.Name); err != nil || reservedName(a.Name) {
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

// writeFileAtomic writes b in place of name, whole or not at all (mode 0644: boot files
// are served to anyone).
func writeFileAtomic(name string, b []byte) error { return atomicfile.Write(name, b, 0o644) }

// copyFileAtomic is atomicfile.Stream for boot files.
func copyFileAtomic(name string, write func(io.Writer) (int64, error), want int64) error {
	return atomicfile.Stream(name, write, want, 0o644)
}
