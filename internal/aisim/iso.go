package aisim

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/kdomanski/iso9660"
)

// discoveryISO is a small but real ISO 9660 image standing in for an infra env's discovery
// ISO: the files a full ISO boots from (images/pxeboot/vmlinuz, initrd.img, rootfs.img and
// images/ignition.img), each naming the infra env, so that what reads it as a CD (the
// simulated nodes' virtual media, the appliance's ISO extraction) reads a real file system.
func discoveryISO(infraEnvID string) ([]byte, error) {
	w, err := iso9660.NewWriter()
	if err != nil {
		return nil, err
	}
	defer w.Cleanup()
	for _, name := range []string{"images/pxeboot/vmlinuz", "images/pxeboot/initrd.img", "images/pxeboot/rootfs.img", "images/ignition.img"} {
		content := strings.Repeat(fmt.Sprintf("AISIM %s of infra env %s\n", name, infraEnvID), 64)
		if err := w.AddFile(strings.NewReader(content), name); err != nil {
			return nil, err
		}
	}
	var b bytes.Buffer
	if err := w.WriteTo(&b, "rhcos-aisim"); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// serveISO serves the infra env's discovery ISO, with Range requests as a real image service.
func (s *Sim) serveISO(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id") // the route holds s.mu
	if s.infraEnvs[id] == nil {
		http.NotFound(w, r)
		return
	}
	iso, err := discoveryISO(id)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(w, r, "full.iso", time.Time{}, bytes.NewReader(iso))
}
