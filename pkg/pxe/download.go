package pxe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// download fetches url into dst: into dst+".part" first, resuming a partial file with a Range
// request, checking the size the server announced, then renaming into place. It returns the
// file's size. A failed download leaves the .part file for the next attempt.
func download(ctx context.Context, client *http.Client, src, dst string) (int64, error) {
	part := dst + ".part"
	var off int64
	if fi, err := os.Stat(part); err == nil {
		off = fi.Size()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return 0, err
	}
	if off > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", off))
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL may carry a token; the caller names it redacted
		}
		return 0, err
	}
	defer resp.Body.Close()
	flags := os.O_WRONLY | os.O_CREATE
	total := int64(-1)
	switch resp.StatusCode {
	case http.StatusOK:
		off, flags = 0, flags|os.O_TRUNC
		total = resp.ContentLength
	case http.StatusPartialContent:
		start, size, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != off {
			return 0, fmt.Errorf("bad Content-Range %q for a resume at %d", resp.Header.Get("Content-Range"), off)
		}
		flags |= os.O_APPEND
		total = size
	case http.StatusRequestedRangeNotSatisfiable:
		// The part file may already be whole: "bytes */SIZE".
		if _, size, ok := parseContentRange(resp.Header.Get("Content-Range")); ok && size == off {
			return off, os.Rename(part, dst)
		}
		_ = os.Remove(part)
		return 0, fmt.Errorf("server refused a resume at %d; starting over next time", off)
	default:
		return 0, fmt.Errorf("GET: %s", resp.Status)
	}
	f, err := os.OpenFile(part, flags, 0o644)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, resp.Body)
	if err == nil && total >= 0 && off+n != total {
		err = fmt.Errorf("got %d of %d bytes", off+n, total)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	return off + n, os.Rename(part, dst)
}

// downloadRetry runs download up to attempts times, resuming each time.
func downloadRetry(ctx context.Context, client *http.Client, src, dst string, attempts int) (int64, error) {
	var err error
	for i := 0; i < attempts; i++ {
		var n int64
		if n, err = download(ctx, client, src, dst); err == nil {
			return n, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return 0, fmt.Errorf("download %s: %w", redactURL(src), err)
}

// parseContentRange parses "bytes START-END/SIZE" and "bytes */SIZE"; SIZE "*" is -1.
func parseContentRange(s string) (start, size int64, ok bool) {
	rest, ok := strings.CutPrefix(s, "bytes ")
	if !ok {
		return 0, 0, false
	}
	rng, sz, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, 0, false
	}
	size = -1
	if sz != "*" {
		var err error
		if size, err = strconv.ParseInt(sz, 10, 64); err != nil || size < 0 {
			return 0, 0, false
		}
	}
	if rng == "*" {
		return 0, size, size >= 0
	}
	a, _, ok := strings.Cut(rng, "-")
	start, err := strconv.ParseInt(a, 10, 64)
	return start, size, ok && err == nil && start >= 0
}

// redactURL drops the query of a URL for logs and errors: the installer's image URLs carry
// signed tokens there.
func redactURL(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i] + "?…"
	}
	return u
}

// DownloadFile downloads src to dst (resumable, size-checked, renamed into place when whole),
// for large files such as the discovery ISO. client nil means http.DefaultClient.
func DownloadFile(ctx context.Context, client *http.Client, src, dst string) (int64, error) {
	if client == nil {
		client = http.DefaultClient
	}
	return downloadRetry(ctx, client, src, dst, 3)
}
