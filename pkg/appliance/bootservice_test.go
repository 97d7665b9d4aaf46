package appliance

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/pxe"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
)

// TestBootServiceCacheByImage: the flow's boot service caches the artifacts and the ISO of
// one image at a time, serves the ISO at the machine-network address, and drops everything
// on invalidation (reprovision), running or not.
func TestBootServiceCacheByImage(t *testing.T) {
	files := map[string][]byte{
		"/kernel": bytes.Repeat([]byte("K"), 1000), "/rootfs": bytes.Repeat([]byte("R"), 3000),
		"/initrd": bytes.Repeat([]byte("I"), 500), "/full.iso": bytes.Repeat([]byte("S"), 4000),
	}
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("ETag", fmt.Sprintf(`"%d"`, len(b)))
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
	}))
	defer origin.Close()
	script := []byte(fmt.Sprintf("#!ipxe\ninitrd --name initrd %[1]s/initrd\nkernel %[1]s/kernel initrd=initrd coreos.live.rootfs_url=%[1]s/rootfs ignition.firstboot\nboot\n", origin.URL))

	lab := exampleLab(t)
	state := t.TempDir()
	cfg := PXEConfig(lab, state)
	srv, err := pxe.New(cfg, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	boot := bootService{pxe: srv, lab: func() *config.Lab { return lab }}
	ctx := context.Background()
	if err := boot.CacheIPXEArtifacts(ctx, "ie1 4.14 x86_64 full-iso a", script); err != nil {
		t.Fatal(err)
	}
	url, err := boot.CacheISO(ctx, "ie1 4.14 x86_64 full-iso a", origin.URL+"/full.iso")
	if err != nil {
		t.Fatal(err)
	}
	if url != "http://172.16.0.1:8080/iso/discovery.iso" {
		t.Errorf("ISO URL %q", url)
	}
	if _, ok := srv.Cache().Manifest(); !ok {
		t.Error("the ISO of the same image dropped the artifacts")
	}
	if b, err := os.ReadFile(cfg.ISOFile); err != nil || !bytes.Equal(b, files["/full.iso"]) {
		t.Errorf("the served ISO: %d bytes, %v", len(b), err)
	}

	// The ISO of another infra env drops the artifacts of the first.
	if _, err := boot.CacheISO(ctx, "ie2 4.14 x86_64 full-iso a", origin.URL+"/full.iso"); err != nil {
		t.Fatal(err)
	}
	if _, ok := srv.Cache().Manifest(); ok {
		t.Error("the artifacts of infra env ie1 are still served")
	}

	if err := boot.InvalidateBootCache(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(cfg.CacheDir); len(left) != 0 || srv.Cache().Image() != "" {
		t.Errorf("after invalidation the cache holds %d files, image %q", len(left), srv.Cache().Image())
	}

	// An appliance that is not running: reprovision empties the cache folder in the state folder.
	if err := boot.CacheIPXEArtifacts(ctx, "ie3 4.14 x86_64 full-iso a", script); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(state)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := offlineBoot(st).InvalidateBootCache(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(cfg.CacheDir); len(left) != 0 {
		t.Errorf("after the offline invalidation the cache folder holds %d files", len(left))
	}
}
