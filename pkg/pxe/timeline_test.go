package pxe

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/store"
	"github.com/cn2-appliance/cn2-appliance/pkg/timeline"
)

// TestBootFilesAreMilestones serves one node its boot over TFTP (curl) and HTTP, and the ISO
// in ranges, and checks its timeline: each file once, with its size and a rate.
func TestBootFilesAreMilestones(t *testing.T) {
	needTool(t, "curl")
	root, files := tftpRoot(t)
	iso := filepath.Join(t.TempDir(), "discovery.iso")
	writeFile(t, iso, make([]byte, 4096))
	port := freePort(t)
	cfg := Config{
		Nodes:      []Node{{Name: "master-0", MACs: []net.HardwareAddr{mac1}}},
		TFTPRoot:   root,
		ISOFile:    iso,
		TFTPListen: []netip.AddrPort{netip.AddrPortFrom(lo, port)},
		HTTPListen: []netip.AddrPort{netip.AddrPortFrom(lo, port)},
		CacheDir:   t.TempDir(),
	}
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tl, err := timeline.Open(st, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The node's NIC has the loopback address here: TFTP clients are known by it.
	tl.SetLab([]timeline.Node{{Name: "master-0", MACs: []string{mac1.String()}, IPs: []string{"127.0.0.1"}}})
	s, err := New(cfg, &memDocs{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.SetTimeline(tl)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	select {
	case <-s.Ready():
	case err := <-done:
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("not ready")
	}
	if _, err := s.Cache().Fill(ctx, fakeSource{}); err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	if out, err := exec.Command("curl", "-sS", "-o", "/dev/null", fmt.Sprintf("tftp://127.0.0.1:%d/undionly.kpxe", port)).CombinedOutput(); err != nil {
		t.Fatalf("curl tftp: %v %s", err, out)
	}
	get(t, base+"/boot/52-54-00-00-00-11.ipxe")
	get(t, base+"/artifacts/kernel")
	req, _ := http.NewRequest(http.MethodGet, base+"/iso/discovery.iso", nil)
	req.Header.Set("Range", "bytes=0-1023")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	// A file's milestone is recorded once its body is sent, which may be after the client read it.
	var got []timeline.Entry
	for deadline := time.Now().Add(10 * time.Second); len(got) < 4 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		got = tl.Node("master-0")
	}
	want := []struct {
		kind   timeline.Kind
		detail string
		bytes  int64
	}{
		{timeline.KindTFTP, "undionly.kpxe", int64(len(files["undionly.kpxe"]))},
		{timeline.KindScript, "profile discovery", 0},
		{timeline.KindFile, "kernel", 6},
		{timeline.KindISO, "read bytes=0-1023", 1024},
	}
	if len(got) != len(want) {
		t.Fatalf("timeline = %+v", got)
	}
	for i, w := range want {
		e := got[i]
		if e.Kind != w.kind || e.Detail != w.detail || e.Bytes != w.bytes || (w.bytes > 0 && (e.Duration <= 0 || e.Rate <= 0)) {
			t.Errorf("milestone %d = %+v, want %+v with a rate", i, e, w)
		}
	}
}
