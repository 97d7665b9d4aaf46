package pxe

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// cacheFiles lists the files in the cache folder.
func cacheFiles(t *testing.T, c *Cache) []string {
	t.Helper()
	entries, err := os.ReadDir(c.Dir())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestCacheImageChangeDropsOldFiles: the cache holds the files of one image. Filling it for
// the same image again reuses the generic kernel and rootfs; another image drops every file
// of the old one (artifacts, the ISO, a .part even when the server would validate it) before
// downloading the new one.
func TestCacheImageChangeDropsOldFiles(t *testing.T) {
	is := newInstallerServer(t)
	cache, err := OpenCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	iso := newOrigin(t, version("ISO-A", 20000), `"iso-A"`)
	src := &InstallerSource{Script: ScriptURL(is.URL+"/v2/infra-envs/ie1/downloads/files?file_name=ipxe-script", nil)}
	ctx := context.Background()
	if _, err := cache.FillImage(ctx, "ie1 A", src); err != nil {
		t.Fatal(err)
	}
	if _, err := cache.Download(ctx, nil, "ie1 A", "discovery.iso", iso.URL+"/full.iso"); err != nil {
		t.Fatal(err)
	}
	if got := cache.Image(); got != "ie1 A" {
		t.Errorf("image %q", got)
	}

	// The same image again: only the script and the initrd are fetched, the ISO stays.
	n := len(is.reqs())
	if _, err := cache.FillImage(ctx, "ie1 A", src); err != nil {
		t.Fatal(err)
	}
	if got := is.reqs()[n:]; len(got) != 2 || !strings.HasPrefix(got[1], "/images/ie1/pxe-initrd") {
		t.Errorf("a refill of the same image requested %v, want the script and the initrd", got)
	}
	if _, err := os.Stat(filepath.Join(cache.Dir(), "discovery.iso")); err != nil {
		t.Errorf("the refill of the same image dropped the ISO: %v", err)
	}

	// A partial rootfs of image A that the server would resume (same URL, same ETag).
	rootfs := filepath.Join(cache.Dir(), "rootfs")
	leavePart(t, rootfs, is.files["/boot-artifacts/rootfs"], fmt.Sprintf(`"%s"`, originKey(string(is.files["/boot-artifacts/rootfs"]))))

	// Another image: everything of A goes, and all of B is downloaded whole.
	n = len(is.reqs())
	if _, err := cache.FillImage(ctx, "ie2 B", src); err != nil {
		t.Fatal(err)
	}
	want := []string{"/v2/infra-envs/ie1/downloads/files", "/boot-artifacts/kernel", "/boot-artifacts/rootfs", "/images/ie1/pxe-initrd"}
	if got := is.reqs()[n:]; !slices.Equal(got, want) {
		t.Errorf("the fill of another image requested %v, want %v (whole files, no resume)", got, want)
	}
	if got, want := cacheFiles(t, cache), []string{"image", "initrd", "kernel", "manifest.json", "rootfs"}; !slices.Equal(got, want) {
		t.Errorf("after the image changed the cache holds %v, want %v", got, want)
	}
	again, err := OpenCache(cache.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if got := again.Image(); got != "ie2 B" {
		t.Errorf("reopened cache: image %q", got)
	}

	// The ISO of a third image: the artifacts of B go, nodes wait instead of booting them.
	if _, err := cache.Download(ctx, nil, "ie3 C", "discovery.iso", iso.URL+"/full.iso"); err != nil {
		t.Fatal(err)
	}
	if _, ok := cache.Manifest(); ok {
		t.Error("the manifest of image B is still served")
	}
	if _, ok := cache.path("kernel"); ok {
		t.Error("image B's kernel is still served")
	}
	if got, want := cacheFiles(t, cache), []string{"discovery.iso", "image"}; !slices.Equal(got, want) {
		t.Errorf("after the ISO of another image the cache holds %v, want %v", got, want)
	}

	// No identity is refused, and so are bookkeeping names.
	if _, err := cache.FillImage(ctx, "", src); err == nil {
		t.Error("a fill without an image identity was accepted")
	}
	for _, name := range []string{"manifest.json", "image", "x.part", "../x", ""} {
		if _, err := cache.Download(ctx, nil, "ie3 C", name, iso.URL); err == nil {
			t.Errorf("download into %q was accepted", name)
		}
	}
}

// TestCacheInvalidate: Invalidate (a reprovision) drops every file and the image, and the
// cache reopens empty; InvalidateCache does the same for a folder it does not open.
func TestCacheInvalidate(t *testing.T) {
	is := newInstallerServer(t)
	cache, err := OpenCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	src := &InstallerSource{Script: ScriptURL(is.URL+"/v2/infra-envs/ie1/downloads/files?file_name=ipxe-script", nil)}
	if _, err := cache.FillImage(context.Background(), "ie1 A", src); err != nil {
		t.Fatal(err)
	}
	leavePart(t, filepath.Join(cache.Dir(), "discovery.iso"), version("ISO", 1000), `"iso"`)
	if err := cache.Invalidate(); err != nil {
		t.Fatal(err)
	}
	if _, ok := cache.Manifest(); ok || cache.Image() != "" {
		t.Errorf("after invalidate: manifest %v, image %q", ok, cache.Image())
	}
	if got := cacheFiles(t, cache); len(got) != 0 {
		t.Errorf("after invalidate the cache holds %v", got)
	}
	again, err := OpenCache(cache.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := again.Manifest(); ok || again.Image() != "" {
		t.Errorf("reopened after invalidate: manifest %v, image %q", ok, again.Image())
	}

	// A folder whose manifest names a file that is gone (OpenCache refuses it) is emptied too.
	if _, err := again.FillImage(context.Background(), "ie1 A", src); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(again.Dir(), "rootfs")); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenCache(again.Dir()); err == nil {
		t.Fatal("a cache without its rootfs opened")
	}
	if err := InvalidateCache(again.Dir()); err != nil {
		t.Fatal(err)
	}
	if got := cacheFiles(t, again); len(got) != 0 {
		t.Errorf("after InvalidateCache the folder holds %v", got)
	}
	if err := InvalidateCache(filepath.Join(t.TempDir(), "never-made")); err != nil {
		t.Errorf("invalidating a cache that does not exist: %v", err)
	}
}
