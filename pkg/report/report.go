// Package report writes the run-report bundle: one gzipped tar a lab engineer hands to a
// colleague or to support, with everything the appliance knows about a run. It owns the
// bundle's format (the parts, index.json) and its last line of defence against secrets: every
// part is scrubbed of the secret values it is given before it is written. What goes into the
// bundle is the caller's (pkg/appliance assembles it from the store, the installer and the
// status snapshot); this package imports no service.
package report

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"time"
)

// IndexName is the bundle's table of contents: every part, and every part that could not be
// collected with why.
const IndexName = "index.json"

// Redacted replaces a secret found in a part.
const Redacted = "[redacted]"

// Index is index.json.
type Index struct {
	Created         time.Time `json:"created"`
	Version         string    `json:"version"`
	Lab             string    `json:"lab"`
	WithCredentials bool      `json:"withCredentials"`
	Parts           []Part    `json:"parts"`
	Missing         []Missing `json:"missing,omitempty"`
}

// Part is one file of the bundle.
type Part struct {
	Name  string `json:"name"`
	Bytes int    `json:"bytes"`
	// Scrubbed counts the secret values replaced by Redacted (0 when the part had none, as it
	// should).
	Scrubbed int `json:"scrubbed,omitempty"`
}

// Missing is a part that could not be collected.
type Missing struct {
	Name string `json:"name"`
	Why  string `json:"why"`
}

// Bundle is a report being written.
type Bundle struct {
	gz      *gzip.Writer
	tw      *tar.Writer
	secrets [][]byte
	index   Index
	err     error
}

// minSecret is the shortest secret value scrubbed: shorter ones would blank common words.
const minSecret = 6

// New starts a bundle on w. secrets are values no part may contain (the pull secret and its
// auths, tokens, BMC and proxy passwords); a part that does is written with them replaced.
func New(w io.Writer, index Index, secrets [][]byte) *Bundle {
	gz := gzip.NewWriter(w)
	b := &Bundle{gz: gz, tw: tar.NewWriter(gz), index: index}
	if b.index.Created.IsZero() {
		b.index.Created = time.Now().UTC()
	}
	for _, s := range secrets {
		if s = bytes.TrimSpace(s); len(s) >= minSecret {
			b.secrets = append(b.secrets, s)
		}
	}
	// Longest first: a secret that contains another is replaced whole.
	slices.SortFunc(b.secrets, func(x, y []byte) int { return len(y) - len(x) })
	return b
}

// Add writes a part. Names are slash-separated paths inside the bundle.
func (b *Bundle) Add(name string, data []byte) error {
	if b.err != nil {
		return b.err
	}
	name = path.Clean(strings.TrimPrefix(name, "/"))
	if name == "." || strings.HasPrefix(name, "..") || name == IndexName {
		return fmt.Errorf("report: part name %q is not allowed", name)
	}
	scrubbed := 0
	for _, s := range b.secrets {
		if n := bytes.Count(data, s); n > 0 {
			scrubbed += n
			data = bytes.ReplaceAll(data, s, []byte(Redacted))
		}
	}
	if err := b.write(name, data); err != nil {
		return err
	}
	b.index.Parts = append(b.index.Parts, Part{Name: name, Bytes: len(data), Scrubbed: scrubbed})
	return nil
}

// AddJSON writes v, indented, as a part.
func (b *Bundle) AddJSON(name string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("report: encode %s: %w", name, err)
	}
	return b.Add(name, append(data, '\n'))
}

// Miss records that a part could not be collected, and why (the installer has no logs yet,
// it could not be reached, ...).
func (b *Bundle) Miss(name string, why error) {
	b.index.Missing = append(b.index.Missing, Missing{Name: name, Why: why.Error()})
}

// Close writes index.json and ends the bundle.
func (b *Bundle) Close() error {
	if b.err == nil {
		data, err := json.MarshalIndent(b.index, "", "  ")
		if err != nil {
			b.err = err
		} else {
			b.err = b.write(IndexName, append(data, '\n'))
		}
	}
	if err := b.tw.Close(); err != nil && b.err == nil {
		b.err = err
	}
	if err := b.gz.Close(); err != nil && b.err == nil {
		b.err = err
	}
	if b.err != nil {
		return fmt.Errorf("report: %w", b.err)
	}
	return nil
}

func (b *Bundle) write(name string, data []byte) error {
	hdr := &tar.Header{Name: name, Mode: 0o600, Size: int64(len(data)), ModTime: b.index.Created, Typeflag: tar.TypeReg}
	if err := b.tw.WriteHeader(hdr); err != nil {
		b.err = err
		return fmt.Errorf("report: write %s: %w", name, err)
	}
	if _, err := b.tw.Write(data); err != nil {
		b.err = err
		return fmt.Errorf("report: write %s: %w", name, err)
	}
	return nil
}

// Read returns every part of a bundle by name (index.json included), for the CLI that adds
// parts to a downloaded bundle and for tests.
func Read(r io.Reader) (map[string][]byte, []string, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, nil, fmt.Errorf("report: read: %w", err)
	}
	tr := tar.NewReader(gz)
	out := map[string][]byte{}
	var order []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, order, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("report: read: %w", err)
		}
		data, err := io.ReadAll(io.LimitReader(tr, 1<<30))
		if err != nil {
			return nil, nil, fmt.Errorf("report: read %s: %w", h.Name, err)
		}
		out[h.Name] = data
		order = append(order, h.Name)
	}
}
