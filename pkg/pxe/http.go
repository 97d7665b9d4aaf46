package pxe

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ServeHTTP serves the boot paths; see the package doc.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	log := s.log.With("ip", remoteIP(r))
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rt, err := parsePath(r.URL.Path)
	if err != nil {
		s.m.httpRequests.WithLabelValues("-", "not_found").Inc()
		log.Debug("pxe: http: refused path", "path", fmt.Sprintf("%q", r.URL.Path), "err", err)
		http.NotFound(w, r)
		return
	}
	cfg := s.cfg.Load()
	base := baseURL(r)
	switch rt.kind {
	case routeChain:
		s.m.httpRequests.WithLabelValues("-", "chain").Inc()
		s.sendScript(w, r, chainScript(base))
	case routeAutoexec:
		s.m.httpRequests.WithLabelValues("-", "chain").Inc()
		s.sendScript(w, r, autoexecScript(base))
	case routeScript:
		s.serveScript(w, r, cfg, base, rt, log)
	case routeArtifact:
		p, ok := s.cache.path(rt.name)
		if !ok {
			s.notFound(w, r, log, rt.name)
			return
		}
		label := "extra"
		if n := strings.TrimRight(rt.name, "0123456789-"); n == "kernel" || n == "rootfs" || rt.name == "initrd" {
			label = n
		}
		s.m.httpRequests.WithLabelValues(s.nodeOf(r), "artifact").Inc()
		s.serveFile(w, r, p, label, log)
	case routeISO:
		if cfg.ISOFile == "" || rt.name != filepath.Base(cfg.ISOFile) {
			s.notFound(w, r, log, rt.name)
			return
		}
		s.m.httpRequests.WithLabelValues("-", "iso").Inc()
		s.serveFile(w, r, cfg.ISOFile, "iso", log)
	case routeFile:
		if cfg.TFTPRoot == "" {
			s.notFound(w, r, log, rt.name)
			return
		}
		s.m.httpRequests.WithLabelValues("-", "ipxe").Inc()
		s.serveFile(w, r, filepath.Join(cfg.TFTPRoot, filepath.FromSlash(rt.name)), "ipxe", log)
	}
}

// serveScript answers /boot/<mac>.ipxe from the MAC's node and profile.
func (s *Server) serveScript(w http.ResponseWriter, r *http.Request, cfg *compiled, base string, rt route, log *slog.Logger) {
	key := macKey(rt.mac)
	log = log.With("mac", rt.mac.String())
	self := base + "/boot/" + key + ".ipxe"
	wait := int(cfg.RetryAfter.Seconds())
	node, known := cfg.nodeByMAC[key]
	if !known {
		s.m.httpRequests.WithLabelValues("unknown", "script").Inc()
		s.plog.Info("pxe: boot script for a MAC outside the lab", "ip", remoteIP(r), "mac", rt.mac.String(), "action", string(cfg.Unknown))
		if cfg.Unknown == UnknownRetry {
			s.sendScript(w, r, waitScript(self, "this MAC is not in the lab", wait))
		} else {
			s.sendScript(w, r, exitScript("this MAC is not in the lab"))
		}
		return
	}
	log = log.With("node", node)
	s.m.httpRequests.WithLabelValues(node, "script").Inc()
	s.rememberNode(r, node)
	prof, err := s.profiles.Profile(rt.mac)
	if err != nil {
		log.Error("pxe: read boot profile", "err", err)
		s.sendScript(w, r, waitScript(self, "boot profile unreadable", wait))
		return
	}
	s.markScript(r, node, rt.mac.String(), prof)
	if prof == Disk {
		log.Info("pxe: boot script", "profile", string(prof))
		s.sendScript(w, r, diskScript(node, cfg.DiskBoot))
		return
	}
	m, ok := s.cache.Manifest()
	if !ok {
		s.plog.Warn("pxe: boot script: the boot cache is empty; the node will ask again", "ip", remoteIP(r), "mac", rt.mac.String(), "node", node, "profile", string(prof))
		s.sendScript(w, r, waitScript(self, "boot artifacts are not ready", wait))
		return
	}
	log.Info("pxe: boot script", "profile", string(prof), "source", m.Source)
	s.sendScript(w, r, discoveryScript(base, node, m, cfg.ExtraKernelArgs))
}

func (s *Server) sendScript(w http.ResponseWriter, r *http.Request, script string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", fmt.Sprint(len(script)))
	s.m.httpBytes.WithLabelValues("script").Add(float64(len(script)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = io.WriteString(w, script)
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request, log *slog.Logger, name string) {
	s.m.httpRequests.WithLabelValues("-", "not_found").Inc()
	log.Debug("pxe: http: not found", "path", r.URL.Path, "name", name)
	http.NotFound(w, r)
}

// serveFile serves a file with http.ServeContent: Range, If-Modified-Since, HEAD, and
// sendfile for the body; nothing is read into memory.
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, p, label string, log *slog.Logger) {
	f, _, err := openRegular(p)
	if err != nil {
		s.m.httpRequests.WithLabelValues("-", "not_found").Inc()
		log.Debug("pxe: http: no such file", "path", r.URL.Path, "err", err)
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		http.Error(w, "stat failed", http.StatusInternalServerError)
		return
	}
	cw := &countingWriter{ResponseWriter: w, rc: http.NewResponseController(w)}
	// The body may take hours on a slow link: no read deadline while it is sent (the idle
	// timeout applies again after it), and the write deadline moves with every chunk.
	_ = cw.rc.SetReadDeadline(time.Time{})
	start := time.Now()
	http.ServeContent(cw, r, filepath.Base(p), fi.ModTime(), f)
	s.markFile(r, label, cw.n, time.Since(start))
	s.m.httpBytes.WithLabelValues(label).Add(float64(cw.n))
	log.Debug("pxe: http: sent", "path", r.URL.Path, "bytes", cw.n, "range", r.Header.Get("Range"))
}

// countingWriter counts body bytes and cuts a client that takes less than writeChunk of
// them in writeStall; it keeps ReadFrom so the server can still use sendfile.
type countingWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
	n  int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	var sent int
	for len(p) > 0 {
		_ = c.rc.SetWriteDeadline(time.Now().Add(writeStall))
		chunk := p[:min(len(p), writeChunk)]
		n, err := c.ResponseWriter.Write(chunk)
		sent += n
		c.n += int64(n)
		if err != nil {
			return sent, err
		}
		p = p[len(chunk):]
	}
	return sent, nil
}

// testHookReadFrom, if set, sees every call countingWriter.ReadFrom makes to the
// ResponseWriter's own ReadFrom (which reaches the connection's sendfile), with its source.
var testHookReadFrom func(src io.Reader)

// ReadFrom sends r through the ResponseWriter's own ReadFrom, so that a file goes out with
// sendfile. http.ServeContent hands it an *io.LimitedReader over the file. A seekable source
// (the file) is sent in one call under a write deadline of writeStall/2; when the deadline
// passes and the client took at least writeChunk/2 bytes meanwhile, the deadline moves on
// and the send resumes from the byte after the last one sent (the file is sought there,
// which sendfile has already done). A client that stops reading is so cut within writeStall.
// Other sources go in writeChunk pieces, each under a fresh writeStall.
func (c *countingWriter) ReadFrom(r io.Reader) (int64, error) {
	rf, ok := c.ResponseWriter.(io.ReaderFrom)
	if !ok {
		return io.Copy(struct{ io.Writer }{c}, r)
	}
	src, left := r, int64(-1) // -1: until EOF
	if lr, isLR := r.(*io.LimitedReader); isLR {
		src, left = lr.R, lr.N
		defer func() { lr.N = left }()
	}
	sk, seekable := src.(io.Seeker)
	var pos int64
	if seekable {
		var err error
		if pos, err = sk.Seek(0, io.SeekCurrent); err != nil {
			seekable = false
		}
	}
	if !seekable {
		return c.readFromChunks(rf, src, &left)
	}
	var total, mark int64
	_ = c.rc.SetWriteDeadline(time.Now().Add(writeStall / 2))
	for left != 0 {
		part := src
		if left > 0 {
			part = &io.LimitedReader{R: src, N: left}
		}
		if testHookReadFrom != nil {
			testHookReadFrom(part)
		}
		n, err := rf.ReadFrom(part)
		total += n
		c.n += n
		if left > 0 {
			left -= n
		}
		if err == nil {
			return total, nil // all of it, or EOF
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) || total-mark < writeChunk/2 {
			return total, err
		}
		// Progress enough: resume where the client is (a copy through a buffer may have
		// read past it), under a new deadline.
		if _, serr := sk.Seek(pos+total, io.SeekStart); serr != nil {
			return total, err
		}
		mark = total
		_ = c.rc.SetWriteDeadline(time.Now().Add(writeStall / 2))
	}
	return total, nil
}

// readFromChunks sends src (not seekable: a resumed send could not find its place) in
// chunks of writeChunk, each under a fresh write deadline of writeStall; *left is -1 for
// "until EOF" and is kept up to date.
func (c *countingWriter) readFromChunks(rf io.ReaderFrom, src io.Reader, left *int64) (int64, error) {
	var total int64
	for *left != 0 {
		_ = c.rc.SetWriteDeadline(time.Now().Add(writeStall))
		want := int64(writeChunk)
		if *left > 0 {
			want = min(want, *left)
		}
		part := &io.LimitedReader{R: src, N: want}
		if testHookReadFrom != nil {
			testHookReadFrom(part)
		}
		n, err := rf.ReadFrom(part)
		total += n
		c.n += n
		if *left > 0 {
			*left -= n
		}
		if err != nil {
			return total, err
		}
		if n < want { // EOF
			return total, nil
		}
	}
	return total, nil
}

func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// nodeOf names the node behind a request by its source address; "-" when it is not known.
// Artifact requests carry no MAC; the script request before them said which node it was.
func (s *Server) nodeOf(r *http.Request) string {
	s.ipMu.Lock()
	defer s.ipMu.Unlock()
	if node, ok := s.nodeByIP[remoteIP(r)]; ok {
		return node
	}
	return "-"
}

// rememberNode notes which node asked from r's address (one address per node, so the map
// stays as small as the lab).
func (s *Server) rememberNode(r *http.Request, node string) {
	ip := remoteIP(r)
	s.ipMu.Lock()
	defer s.ipMu.Unlock()
	if old, ok := s.ipByNode[node]; ok && old != ip {
		delete(s.nodeByIP, old)
	}
	s.ipByNode[node] = ip
	s.nodeByIP[ip] = node
}

// baseURL is http://<the address the client reached>; the Host header is not trusted.
func baseURL(r *http.Request) string {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		return "http://" + a.String()
	}
	return "http://" + r.Host
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
