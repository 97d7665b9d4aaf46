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

// download fetches src into dst: into dst+".part" first, renamed into place when whole. A
// partial file is resumed only when the response that started it carried a validator (kept in
// dst+".part.validator", see partValidator): the Range request carries it in If-Range, so a
// server whose file changed sends the new file whole instead of the rest of the old one. It
// returns the file's size. A failed download leaves the .part file for the next attempt.
func download(ctx context.Context, client *http.Client, src, dst string) (int64, error) {
	part := dst + ".part"
	resume := true
	for {
		n, err := downloadOnce(ctx, client, src, part, resume)
		if errors.Is(err, errRestart) && resume {
			// The partial file belongs to another version of the file, or the server cannot
			// resume it: throw it away and ask for the whole file.
			if err := dropPart(part); err != nil {
				return 0, err
			}
			resume = false
			continue
		}
		if err != nil {
			return 0, err
		}
		if err := os.Rename(part, dst); err != nil {
			return 0, err
		}
		_ = os.Remove(validatorPath(part))
		return n, nil
	}
}

// errRestart says a resume was refused or does not fit the partial file.
var errRestart = errors.New("resume refused")

// downloadOnce makes one request for src, resuming part when resume is set and part has a
// validator, and leaves the whole file in part.
func downloadOnce(ctx context.Context, client *http.Client, src, part string, resume bool) (int64, error) {
	var prev partValidator
	var off int64
	if resume {
		prev, off = resumePoint(part)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return 0, err
	}
	// Offsets count the bytes as stored: no transparent decompression.
	req.Header.Set("Accept-Encoding", "identity")
	if off > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", off))
		req.Header.Set("If-Range", prev.ifRange())
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
	var f *os.File
	total := int64(-1)
	switch resp.StatusCode {
	case http.StatusOK:
		// A fresh download, or the server ignored the range (If-Range did not match, or it
		// does not do ranges): the body is the whole file.
		off, total = 0, resp.ContentLength
		if f, err = startPart(part, newPartValidator(resp)); err != nil {
			return 0, err
		}
	case http.StatusPartialContent:
		start, size, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if off == 0 || !ok || start != off || (prev.Size >= 0 && size >= 0 && size != prev.Size) || !prev.matches(resp) {
			return 0, fmt.Errorf("%w: Content-Range %q, ETag %q, Last-Modified %q for a resume at %d of %d bytes",
				errRestart, resp.Header.Get("Content-Range"), resp.Header.Get("ETag"), resp.Header.Get("Last-Modified"), off, prev.Size)
		}
		total = size
		if f, err = os.OpenFile(part, os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
			return 0, err
		}
	case http.StatusRequestedRangeNotSatisfiable:
		return 0, fmt.Errorf("%w: the server cannot serve bytes %d- (%s)", errRestart, off, resp.Status)
	default:
		return 0, fmt.Errorf("GET: %s", resp.Status)
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
	return off + n, err
}

// resumePoint is where part can be resumed from: its size, when its validator is known;
// else 0 (start again).
func resumePoint(part string) (partValidator, int64) {
	fi, err := os.Stat(part)
	if err != nil || fi.Size() == 0 {
		return partValidator{}, 0
	}
	v, ok := readPartValidator(part)
	if !ok || (v.Size >= 0 && fi.Size() >= v.Size) {
		return partValidator{}, 0
	}
	return v, fi.Size()
}

// startPart empties part and records v as the validator of what is written to it next. The
// old validator goes first and the new one is written once part is empty, so after a crash
// a validator never describes bytes it did not come with.
func startPart(part string, v partValidator) (*os.File, error) {
	if err := removeIfExists(validatorPath(part)); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	if v.ETag != "" || v.LastModified != "" {
		if err := v.write(part); err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

// dropPart removes a partial download and its validator.
func dropPart(part string) error {
	if err := removeIfExists(validatorPath(part)); err != nil {
		return err
	}
	return removeIfExists(part)
}

func removeIfExists(name string) error {
	if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
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

// DownloadFile downloads src to dst (resumable when the server gives a validator,
// size-checked, renamed into place when whole). client nil means http.DefaultClient.
func DownloadFile(ctx context.Context, client *http.Client, src, dst string) (int64, error) {
	if client == nil {
		client = http.DefaultClient
	}
	return downloadRetry(ctx, client, src, dst, 3)
}
