package pxe

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// origin is an HTTP origin for downloads: it serves one file with http.ServeContent (which
// honours Range and If-Range as RFC 9110 says) and records what each request asked for and
// how many body bytes it was sent.
type origin struct {
	*httptest.Server
	mu      sync.Mutex
	body    []byte
	etag    string    // "" sends none
	modTime time.Time // zero sends no Last-Modified
	cutAt   int       // > 0: the next response is cut after this many body bytes
	// handler, when set, answers instead of http.ServeContent.
	handler func(w http.ResponseWriter, r *http.Request, body []byte)
	seen    []seenRequest
}

type seenRequest struct {
	Range, IfRange string
	Status         int
	Sent           int
}

func newOrigin(t *testing.T, body []byte, etag string) *origin {
	o := &origin{body: body, etag: etag}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		body, etag, modTime, handler, cut := o.body, o.etag, o.modTime, o.handler, o.cutAt
		o.cutAt = 0
		o.mu.Unlock()
		cw := &originWriter{ResponseWriter: w, cutAt: cut}
		seen := seenRequest{Range: r.Header.Get("Range"), IfRange: r.Header.Get("If-Range")}
		defer func() {
			seen.Status, seen.Sent = cw.status, cw.n
			o.mu.Lock()
			o.seen = append(o.seen, seen)
			o.mu.Unlock()
		}()
		if etag != "" {
			w.Header().Set("ETag", etag)
		}
		if handler != nil {
			handler(cw, r, body)
			return
		}
		http.ServeContent(cw, r, "", modTime, bytes.NewReader(body))
	}))
	t.Cleanup(o.Close)
	return o
}

func (o *origin) set(body []byte, etag string, modTime time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.body, o.etag, o.modTime = body, etag, modTime
}

func (o *origin) cutNext(n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.cutAt = n
}

func (o *origin) requests() []seenRequest {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]seenRequest(nil), o.seen...)
}

// originWriter counts the body bytes sent, and cuts the connection after cutAt of them.
type originWriter struct {
	http.ResponseWriter
	status, n, cutAt int
}

func (c *originWriter) WriteHeader(code int) {
	c.status = code
	c.ResponseWriter.WriteHeader(code)
}

func (c *originWriter) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	if c.cutAt > 0 && c.n+len(p) > c.cutAt {
		p = p[:c.cutAt-c.n]
		n, _ := c.ResponseWriter.Write(p)
		c.n += n
		c.ResponseWriter.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // the connection breaks mid-body
	}
	n, err := c.ResponseWriter.Write(p)
	c.n += n
	return n, err
}

func version(name string, size int) []byte {
	return bytes.Repeat([]byte(name), size)
}

// leavePart writes what an earlier, interrupted download left: the first half of body in
// dst.part, and (when etag is not "") the validator it came with.
func leavePart(t *testing.T, dst string, body []byte, etag string) int {
	t.Helper()
	half := len(body) / 2
	writeFile(t, dst+".part", body[:half])
	if etag != "" {
		if err := (partValidator{ETag: etag, Size: int64(len(body))}).write(dst + ".part"); err != nil {
			t.Fatal(err)
		}
	}
	return half
}

func checkDownloaded(t *testing.T, dst string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		prefix := got
		if len(prefix) > 8 {
			prefix = prefix[:8]
		}
		t.Errorf("downloaded %d bytes starting %q, want %d bytes starting %q", len(got), prefix, len(want), want[:8])
	}
	for _, left := range []string{dst + ".part", dst + ".part.validator"} {
		if _, err := os.Stat(left); err == nil {
			t.Errorf("%s left behind", filepath.Base(left))
		}
	}
}

func wantRequests(t *testing.T, got []seenRequest, want ...seenRequest) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the server saw\n %+v\nwant\n %+v", got, want)
	}
}

// TestDownloadChangedFileBehindPart: the .part holds the first half of version A, with A's
// ETag; the server now has version B. If-Range carries A's ETag, the server answers 200 with
// all of B, and the result is exactly B, not A's half spliced onto B.
func TestDownloadChangedFileBehindPart(t *testing.T) {
	a, b := version("A", 100000), version("B", 100000)
	o := newOrigin(t, b, `"v-B"`)
	dst := filepath.Join(t.TempDir(), "rootfs")
	half := leavePart(t, dst, a, `"v-A"`)

	n, err := DownloadFile(context.Background(), nil, o.URL+"/rootfs", dst)
	if err != nil || n != int64(len(b)) {
		t.Fatalf("download: %d bytes, %v", n, err)
	}
	checkDownloaded(t, dst, b)
	wantRequests(t, o.requests(), seenRequest{Range: fmt.Sprintf("bytes=%d-", half), IfRange: `"v-A"`, Status: 200, Sent: len(b)})
}

// TestDownloadResumeMatchingETag: the .part holds the first half of the file the server still
// has; the resume asks for the rest with If-Range and appends only the rest.
func TestDownloadResumeMatchingETag(t *testing.T) {
	a := version("A", 100000)
	o := newOrigin(t, a, `"v-A"`)
	dst := filepath.Join(t.TempDir(), "rootfs")
	half := leavePart(t, dst, a, `"v-A"`)

	if _, err := DownloadFile(context.Background(), nil, o.URL+"/rootfs", dst); err != nil {
		t.Fatal(err)
	}
	checkDownloaded(t, dst, a)
	wantRequests(t, o.requests(), seenRequest{Range: fmt.Sprintf("bytes=%d-", half), IfRange: `"v-A"`, Status: 206, Sent: len(a) - half})
}

// TestDownloadInterruptedThenResumed: a download cut mid-body keeps its validator beside the
// .part; a new download (a restarted appliance) resumes from where it stopped.
func TestDownloadInterruptedThenResumed(t *testing.T) {
	a := version("A", 100000)
	o := newOrigin(t, a, `"v-A"`)
	dst := filepath.Join(t.TempDir(), "initrd")
	o.cutNext(30000)
	if _, err := download(context.Background(), http.DefaultClient, o.URL+"/initrd", dst); err == nil {
		t.Fatal("a cut download succeeded")
	}
	v, ok := readPartValidator(dst + ".part")
	if !ok || v.ETag != `"v-A"` || v.Size != int64(len(a)) {
		t.Fatalf("validator beside the .part: %+v %v", v, ok)
	}
	if _, err := download(context.Background(), http.DefaultClient, o.URL+"/initrd", dst); err != nil {
		t.Fatal(err)
	}
	checkDownloaded(t, dst, a)
	wantRequests(t, o.requests(),
		seenRequest{Status: 200, Sent: 30000},
		seenRequest{Range: "bytes=30000-", IfRange: `"v-A"`, Status: 206, Sent: len(a) - 30000})
}

// TestDownloadWithoutValidator: a .part without a validator (the server gave none, or the
// file predates validators) is not resumed: the file is downloaded whole.
func TestDownloadWithoutValidator(t *testing.T) {
	a, b := version("A", 100000), version("B", 100000)
	o := newOrigin(t, b, "")
	dst := filepath.Join(t.TempDir(), "kernel")
	leavePart(t, dst, a, "")
	if _, err := DownloadFile(context.Background(), nil, o.URL+"/kernel", dst); err != nil {
		t.Fatal(err)
	}
	checkDownloaded(t, dst, b)
	wantRequests(t, o.requests(), seenRequest{Status: 200, Sent: len(b)})

	// A cut download from a server without validators keeps none, so the next one starts over.
	o.cutNext(30000)
	dst2 := filepath.Join(t.TempDir(), "kernel")
	if _, err := download(context.Background(), http.DefaultClient, o.URL+"/kernel", dst2); err == nil {
		t.Fatal("a cut download succeeded")
	}
	if _, err := os.Stat(dst2 + ".part.validator"); err == nil {
		t.Error("a validator was kept for a response that had none")
	}
	if _, err := download(context.Background(), http.DefaultClient, o.URL+"/kernel", dst2); err != nil {
		t.Fatal(err)
	}
	checkDownloaded(t, dst2, b)
	wantRequests(t, o.requests()[1:], seenRequest{Status: 200, Sent: 30000}, seenRequest{Status: 200, Sent: len(b)})
}

// TestDownloadWeakETagNotResumed: If-Range compares strongly, so a weak ETag gives no resume.
func TestDownloadWeakETagNotResumed(t *testing.T) {
	a := version("A", 100000)
	o := newOrigin(t, a, `W/"v-A"`)
	dst := filepath.Join(t.TempDir(), "kernel")
	o.cutNext(30000)
	if _, err := download(context.Background(), http.DefaultClient, o.URL+"/kernel", dst); err == nil {
		t.Fatal("a cut download succeeded")
	}
	if _, err := download(context.Background(), http.DefaultClient, o.URL+"/kernel", dst); err != nil {
		t.Fatal(err)
	}
	checkDownloaded(t, dst, a)
	wantRequests(t, o.requests(), seenRequest{Status: 200, Sent: 30000}, seenRequest{Status: 200, Sent: len(a)})
}

// TestDownloadServerIgnoresRange: a server that answers 200 to a Range request sends the
// whole file, which replaces the .part instead of being appended to it.
func TestDownloadServerIgnoresRange(t *testing.T) {
	a := version("A", 100000)
	o := newOrigin(t, a, `"v-A"`)
	o.handler = func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		_, _ = w.Write(body)
	}
	dst := filepath.Join(t.TempDir(), "rootfs")
	half := leavePart(t, dst, a, `"v-A"`)
	if _, err := DownloadFile(context.Background(), nil, o.URL+"/rootfs", dst); err != nil {
		t.Fatal(err)
	}
	checkDownloaded(t, dst, a)
	wantRequests(t, o.requests(), seenRequest{Range: fmt.Sprintf("bytes=%d-", half), IfRange: `"v-A"`, Status: 200, Sent: len(a)})
}

// TestDownloadServerIgnoresIfRange: a server that honours Range but not If-Range sends B's
// bytes for A's offset; their ETag gives it away, and the file is downloaded again whole.
func TestDownloadServerIgnoresIfRange(t *testing.T) {
	a, b := version("A", 100000), version("B", 100000)
	o := newOrigin(t, b, `"v-B"`)
	o.handler = func(w http.ResponseWriter, r *http.Request, body []byte) {
		r.Header.Del("If-Range")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	}
	dst := filepath.Join(t.TempDir(), "rootfs")
	half := leavePart(t, dst, a, `"v-A"`)
	if _, err := DownloadFile(context.Background(), nil, o.URL+"/rootfs", dst); err != nil {
		t.Fatal(err)
	}
	checkDownloaded(t, dst, b)
	// The client drops the 206 unread, so how much of it was sent is left unchecked.
	got := o.requests()
	if len(got) != 2 || got[0].Range != fmt.Sprintf("bytes=%d-", half) || got[0].IfRange != `"v-A"` || got[0].Status != 206 ||
		got[1] != (seenRequest{Status: 200, Sent: len(b)}) {
		t.Errorf("the server saw %+v, want a 206 for the resume then a whole download", got)
	}
}

// TestDownloadRefusedOrMisplacedRange: 416, or a 206 whose Content-Range does not start at the
// offset asked for, starts the download again from zero.
func TestDownloadRefusedOrMisplacedRange(t *testing.T) {
	a := version("A", 100000)
	for name, answer := range map[string]func(w http.ResponseWriter, body []byte){
		"416": func(w http.ResponseWriter, body []byte) {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", len(body)))
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
		},
		"misplaced": func(w http.ResponseWriter, body []byte) {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes 10-%d/%d", len(body)-1, len(body)))
			w.WriteHeader(http.StatusPartialContent)
			_, _ = w.Write(body[10:])
		},
	} {
		t.Run(name, func(t *testing.T) {
			o := newOrigin(t, a, `"v-A"`)
			o.handler = func(w http.ResponseWriter, r *http.Request, body []byte) {
				if r.Header.Get("Range") == "" {
					http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
					return
				}
				answer(w, body)
			}
			dst := filepath.Join(t.TempDir(), "rootfs")
			half := leavePart(t, dst, a, `"v-A"`)
			if _, err := DownloadFile(context.Background(), nil, o.URL+"/rootfs", dst); err != nil {
				t.Fatal(err)
			}
			checkDownloaded(t, dst, a)
			got := o.requests()
			if len(got) != 2 || got[0].Range != fmt.Sprintf("bytes=%d-", half) || got[1] != (seenRequest{Status: 200, Sent: len(a)}) {
				t.Errorf("the server saw %+v, want a resume then a whole download", got)
			}
		})
	}
}

// TestDownloadLastModified: without an ETag, a strong Last-Modified (a second or more before
// the response's Date) validates the resume; when the file changed, it is downloaded whole.
func TestDownloadLastModified(t *testing.T) {
	a, b := version("A", 100000), version("B", 100000)
	aTime := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	o := newOrigin(t, a, "")
	o.set(a, "", aTime)
	dst := filepath.Join(t.TempDir(), "rootfs")
	o.cutNext(40000)
	if _, err := download(context.Background(), http.DefaultClient, o.URL+"/rootfs", dst); err == nil {
		t.Fatal("a cut download succeeded")
	}
	if _, err := download(context.Background(), http.DefaultClient, o.URL+"/rootfs", dst); err != nil {
		t.Fatal(err)
	}
	checkDownloaded(t, dst, a)
	lm := aTime.Format(http.TimeFormat)
	wantRequests(t, o.requests(), seenRequest{Status: 200, Sent: 40000}, seenRequest{Range: "bytes=40000-", IfRange: lm, Status: 206, Sent: len(a) - 40000})

	// The file changes while a download is cut: the resume gets all of B.
	dst2 := filepath.Join(t.TempDir(), "rootfs")
	o.cutNext(40000)
	if _, err := download(context.Background(), http.DefaultClient, o.URL+"/rootfs", dst2); err == nil {
		t.Fatal("a cut download succeeded")
	}
	o.set(b, "", aTime.Add(time.Hour))
	if _, err := download(context.Background(), http.DefaultClient, o.URL+"/rootfs", dst2); err != nil {
		t.Fatal(err)
	}
	checkDownloaded(t, dst2, b)
	wantRequests(t, o.requests()[2:], seenRequest{Status: 200, Sent: 40000}, seenRequest{Range: "bytes=40000-", IfRange: lm, Status: 200, Sent: len(b)})
}

// TestDownloadLastModifiedTooRecent: a Last-Modified within the second of the response's Date
// is a weak validator (RFC 9110 8.8.2.2) and is not used.
func TestDownloadLastModifiedTooRecent(t *testing.T) {
	a := version("A", 100000)
	o := newOrigin(t, a, "")
	o.handler = func(w http.ResponseWriter, r *http.Request, body []byte) {
		now := time.Now().UTC().Format(http.TimeFormat)
		w.Header().Set("Date", now)
		w.Header().Set("Last-Modified", now)
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		_, _ = w.Write(body)
	}
	dst := filepath.Join(t.TempDir(), "rootfs")
	o.cutNext(40000)
	if _, err := download(context.Background(), http.DefaultClient, o.URL+"/rootfs", dst); err == nil {
		t.Fatal("a cut download succeeded")
	}
	if _, err := os.Stat(dst + ".part.validator"); err == nil {
		t.Error("a Last-Modified equal to Date was kept as a validator")
	}
}

func TestParseContentRange(t *testing.T) {
	for s, want := range map[string]string{
		"bytes 100-199/200": "100 200 true",
		"bytes 0-9/*":       "0 -1 true",
		"bytes */300":       "0 300 true",
		"bytes */*":         "0 -1 false",
		"100-199/200":       "0 0 false",
		"bytes x-1/2":       "0 2 false",
	} {
		start, size, ok := parseContentRange(s)
		if got := fmt.Sprint(start, size, ok); got != want {
			t.Errorf("%q: %s, want %s", s, got, want)
		}
	}
	if !strings.Contains(redactURL("http://x/i?api_key=SECRET"), "?…") {
		t.Error("redactURL keeps the query")
	}
}
