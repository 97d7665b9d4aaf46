package pxe

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/pin/tftp/v3"
)

// Messages sent to TFTP clients (the library always uses error code 1); they never show local
// paths.
var (
	errTFTPNotFound = errors.New("file not found")
	errTFTPRefused  = errors.New("access violation")
	errTFTPReadOnly = errors.New("read-only server: write requests are refused")
)

// tftpRead serves a read request from the TFTP folder.
func (s *Server) tftpRead(filename string, rf io.ReaderFrom) error {
	cfg := s.cfg.Load()
	log, plog := s.log, s.plog
	if t, ok := rf.(tftp.OutgoingTransfer); ok {
		ra := t.RemoteAddr()
		log, plog = log.With("ip", ra.IP.String()), plog.With("ip", ra.IP.String())
	}
	name, err := cleanFileName(filename)
	if err != nil {
		s.m.tftpErrors.WithLabelValues("bad_name").Inc()
		plog.Warn("pxe: tftp: refused file name", "file", fmt.Sprintf("%q", filename), "err", err)
		return errTFTPRefused
	}
	f, size, err := openRegular(filepath.Join(cfg.TFTPRoot, filepath.FromSlash(name)))
	if err != nil {
		s.m.tftpErrors.WithLabelValues("not_found").Inc()
		plog.Info("pxe: tftp: no such file", "file", name, "err", err)
		return errTFTPNotFound
	}
	defer f.Close()
	if t, ok := rf.(tftp.OutgoingTransfer); ok {
		t.SetSize(size) // tsize
	}
	start := time.Now()
	n, err := rf.ReadFrom(f)
	s.m.tftpBytes.WithLabelValues(name).Add(float64(n))
	if err != nil {
		s.m.tftpTransfers.WithLabelValues(name, "error").Inc()
		s.m.tftpErrors.WithLabelValues("transfer").Inc()
		plog.Warn("pxe: tftp: transfer failed", "file", name, "bytes", n, "err", err)
		return nil // the library has already told the client, or the client went away
	}
	s.m.tftpTransfers.WithLabelValues(name, "ok").Inc()
	s.markTFTP(rf, name, n, time.Since(start))
	log.Info("pxe: tftp: sent", "file", name, "bytes", n)
	return nil
}

// tftpAllowed says whether a TFTP client may be answered; refusals are counted and logged
// at debug level (a scan from outside the lab must not fill the journal).
func (s *Server) tftpAllowed(ra net.UDPAddr) bool {
	a, _ := netip.AddrFromSlice(ra.IP)
	if s.cfg.Load().allowed(a) {
		return true
	}
	s.m.tftpErrors.WithLabelValues("acl").Inc()
	s.log.Debug("pxe: tftp: refused a client outside the lab networks", "ip", a.Unmap().String())
	return false
}

// tftpWrite refuses every write request.
func (s *Server) tftpWrite(filename string, wt io.WriterTo) error {
	s.m.tftpErrors.WithLabelValues("write_refused").Inc()
	log := s.plog
	if t, ok := wt.(tftp.IncomingTransfer); ok {
		ra := t.RemoteAddr()
		log = log.With("ip", ra.IP.String())
	}
	log.Warn("pxe: tftp: refused write request", "file", fmt.Sprintf("%q", filename))
	return errTFTPReadOnly
}

// openRegular opens a regular file (following symbolic links) and returns its size.
func openRegular(p string) (*os.File, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file", filepath.Base(p))
	}
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}
