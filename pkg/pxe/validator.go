package pxe

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"time"
)

// partValidator identifies the version of a file a partial download holds the start of, as
// RFC 9110 lets a client resume it: the response's strong ETag, or else its Last-Modified
// when that is a strong validator. It is kept beside the .part file, so a restarted appliance
// resumes safely.
type partValidator struct {
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
	Size         int64  `json:"size"` // the whole file's size; -1 unknown
}

func validatorPath(part string) string { return part + ".validator" }

// newPartValidator takes the validator of a 200 response. A weak ETag gives none: If-Range
// compares strongly, and a client that has an entity tag must not send a date instead (RFC
// 9110 13.1.5). Last-Modified counts only when the response's Date is at least a second
// later (RFC 9110 8.8.2.2): a file changed within its modification second is not told apart.
func newPartValidator(resp *http.Response) partValidator {
	v := partValidator{Size: resp.ContentLength}
	if etag := resp.Header.Get("ETag"); etag != "" {
		if strongETag(etag) {
			v.ETag = etag
		}
		return v
	}
	lm, err1 := http.ParseTime(resp.Header.Get("Last-Modified"))
	date, err2 := http.ParseTime(resp.Header.Get("Date"))
	if err1 == nil && err2 == nil && date.Sub(lm) >= time.Second {
		v.LastModified = resp.Header.Get("Last-Modified")
	}
	return v
}

// strongETag says whether s is a strong entity tag: a quoted string without the W/ prefix.
func strongETag(s string) bool {
	return len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' && !strings.Contains(s[1:len(s)-1], `"`)
}

// ifRange is the If-Range value that resumes the download.
func (v partValidator) ifRange() string {
	if v.ETag != "" {
		return v.ETag
	}
	return v.LastModified
}

// matches says whether a 206 response is of the version v describes. A server that honours
// If-Range only answers 206 when it matches; this also catches one that ignores If-Range.
// A 206 must carry the validators a 200 would (RFC 9110 15.3.7), so a missing one fails.
func (v partValidator) matches(resp *http.Response) bool {
	if v.ETag != "" {
		return resp.Header.Get("ETag") == v.ETag
	}
	if v.LastModified == "" {
		return false
	}
	want, err1 := http.ParseTime(v.LastModified)
	got, err2 := http.ParseTime(resp.Header.Get("Last-Modified"))
	return err1 == nil && err2 == nil && got.Equal(want)
}

func (v partValidator) write(part string) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return writeFileAtomic(validatorPath(part), b)
}

// readPartValidator reads the validator kept beside part; false when there is none usable.
func readPartValidator(part string) (partValidator, bool) {
	b, err := os.ReadFile(validatorPath(part))
	if err != nil {
		return partValidator{}, false
	}
	var v partValidator
	if err := json.Unmarshal(b, &v); err != nil || v.ifRange() == "" || (v.ETag != "" && !strongETag(v.ETag)) {
		return partValidator{}, false
	}
	return v, true
}
