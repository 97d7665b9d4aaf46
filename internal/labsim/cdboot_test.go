package labsim

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kdomanski/iso9660"
)

// testISO is an ISO 9660 image with files at the given paths.
func testISO(t *testing.T, files ...string) []byte {
	t.Helper()
	w, err := iso9660.NewWriter()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Cleanup()
	for _, f := range files {
		lines := 4000
		if strings.HasSuffix(f, "rootfs.img") {
			lines = 40000 // the live system reads it later, not the firmware
		}
		if err := w.AddFile(strings.NewReader(strings.Repeat(f+"\n", lines)), f); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	if err := w.WriteTo(&b, "test"); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestReadCD: a boot from the virtual CD reads the ISO in Range requests, a few ranges and
// far from the whole image, and refuses a server that ignores Range, an image that is not
// ISO 9660, and one without the kernel or initrd.
func TestReadCD(t *testing.T) {
	full := testISO(t, "images/pxeboot/vmlinuz", "images/pxeboot/initrd.img", "images/pxeboot/rootfs.img", "images/ignition.img")
	for _, tc := range []struct {
		name   string
		image  []byte
		ranges bool // the server answers Range requests
		want   string
	}{
		{"discovery ISO", full, true, ""},
		{"Range ignored", full, false, "want 206 Partial Content"},
		{"not ISO 9660", make([]byte, 64<<10), true, "no ISO 9660 primary volume descriptor at sector 16"},
		{"no initrd", testISO(t, "images/pxeboot/vmlinuz", "images/pxeboot/rootfs.img"), true, "images/pxeboot/initrd.img: not on the CD"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sent atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !tc.ranges {
					r.Header.Del("Range")
				}
				cw := &countWriter{ResponseWriter: w, n: &sent}
				http.ServeContent(cw, r, "discovery.iso", time.Time{}, bytes.NewReader(tc.image))
			}))
			defer srv.Close()
			n := &NetNode{}
			err := n.readCD(context.Background(), srv.URL+"/iso/discovery.iso")
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("readCD = %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// PVD (firmware), PVD and terminator (boot loader), 3 directories, 2 files.
			if got := n.Counts().ISORanges; got != 8 {
				t.Errorf("%d Range requests, want 8", got)
			}
			if got := sent.Load(); got >= int64(len(tc.image))/2 {
				t.Errorf("read %d bytes of a %d-byte image: more than a boot needs", got, len(tc.image))
			}
		})
	}
}

type countWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	return c.ResponseWriter.Write(p)
}

func TestParseContentRange(t *testing.T) {
	for _, tc := range []struct {
		in                string
		first, last, size int64
		bad               bool
	}{
		{in: "bytes 32768-34815/1048576", first: 32768, last: 34815, size: 1048576},
		{in: "bytes 0-0/1", first: 0, last: 0, size: 1},
		{in: "bytes */1048576", bad: true},
		{in: "bytes 10-20/15", bad: true},
		{in: "items 0-1/2", bad: true},
		{in: "", bad: true},
	} {
		first, last, size, err := parseContentRange(tc.in)
		if tc.bad != (err != nil) || (!tc.bad && (first != tc.first || last != tc.last || size != tc.size)) {
			t.Errorf("parseContentRange(%q) = %d, %d, %d, %v", tc.in, first, last, size, err)
		}
	}
}
