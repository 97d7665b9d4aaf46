package pxe

import (
	"io"
	"net/http"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/timeline"
	"github.com/pin/tftp/v3"
)

// SetTimeline has the boot files served reported to rec as milestones: TFTP files, iPXE
// scripts, HTTP boot files with their transfer rate, ISO (range) reads. Call it before Run.
// Record does not block.
func (s *Server) SetTimeline(rec timeline.Recorder) { s.tl = rec }

// markTFTP reports a file sent over TFTP, by the client's address.
func (s *Server) markTFTP(rf io.ReaderFrom, name string, n int64, took time.Duration) {
	t, ok := rf.(tftp.OutgoingTransfer)
	if s.tl == nil || !ok {
		return
	}
	ra := t.RemoteAddr()
	s.tl.Record(timeline.Milestone{IP: ra.IP.String(), Kind: timeline.KindTFTP, Detail: name, Bytes: n, Duration: took})
}

// markScript reports the boot script a lab node fetched, and which profile it was given.
func (s *Server) markScript(r *http.Request, node, mac string, prof Profile) {
	if s.tl == nil {
		return
	}
	s.tl.Record(timeline.Milestone{Node: node, MAC: mac, IP: remoteIP(r), Kind: timeline.KindScript, Detail: "profile " + string(prof)})
}

// markFile reports a file served over HTTP: label is kernel, initrd, rootfs, iso, ipxe, ...
func (s *Server) markFile(r *http.Request, label string, n int64, took time.Duration) {
	if s.tl == nil || r.Method == http.MethodHead {
		return
	}
	m := timeline.Milestone{IP: remoteIP(r), Kind: timeline.KindFile, Detail: label, Bytes: n, Duration: took}
	if node := s.nodeOf(r); node != "-" {
		m.Node = node
	}
	if label == "iso" {
		m.Kind, m.Detail = timeline.KindISO, "read"
		if rg := r.Header.Get("Range"); rg != "" {
			m.Detail = "read " + rg
		}
	}
	s.tl.Record(m)
}
