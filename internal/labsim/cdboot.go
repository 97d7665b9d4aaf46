package labsim

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/kdomanski/iso9660"
)

// isoSector is an ISO 9660 logical sector; the volume descriptors start at sector 16.
const isoSector = 2048

// cdFiles are what the boot loader of a discovery ISO loads from the CD.
var cdFiles = []string{"images/pxeboot/vmlinuz", "images/pxeboot/initrd.img"}

// cdBoot boots the discovery ISO attached as the virtual CD the way a BMC's virtual media
// serves it to the firmware: over HTTP, in Range requests for the blocks the firmware and the
// boot loader read, never the whole image. The primary volume descriptor (sector 16) must say
// CD001 and describe a volume that fits the image, then the directories down to
// images/pxeboot and the kernel and initrd are read; every request must be answered 206 with
// a Content-Range of the same image size. The live system then takes its address by DHCP as a
// plain client (no PXE options asked or needed) and the discovery agent registers.
func (n *NetNode) cdBoot(ctx context.Context, iso string) error {
	if err := n.readCD(ctx, iso); err != nil {
		return err
	}
	if _, err := n.dhcp(ctx); err != nil {
		return fmt.Errorf("booted from the virtual CD: %w", err)
	}
	if err := n.osDHCP(ctx); err != nil {
		return err
	}
	if err := n.Power.postBoot(ctx); err != nil {
		return err
	}
	n.count(func(c *Counts) { c.DiscoveryBoots++ })
	return nil
}

// readCD is the firmware's and the boot loader's part of a boot from the virtual CD.
func (n *NetNode) readCD(ctx context.Context, iso string) error {
	cd := &rangeReader{ctx: ctx, url: iso, read: func() { n.count(func(c *Counts) { c.ISORanges++ }) }}
	pvd := make([]byte, isoSector)
	if _, err := cd.ReadAt(pvd, 16*isoSector); err != nil {
		return fmt.Errorf("virtual CD %s: primary volume descriptor: %w", iso, err)
	}
	if pvd[0] != 1 || string(pvd[1:6]) != "CD001" {
		return fmt.Errorf("virtual CD %s: no ISO 9660 primary volume descriptor at sector 16", iso)
	}
	blocks, blockSize := binary.LittleEndian.Uint32(pvd[80:84]), binary.LittleEndian.Uint16(pvd[128:130])
	if volume := int64(blocks) * int64(blockSize); blockSize == 0 || volume > cd.size {
		return fmt.Errorf("virtual CD %s: the volume is %d blocks of %d bytes, the image only %d bytes", iso, blocks, blockSize, cd.size)
	}
	img, err := iso9660.OpenImage(cd)
	if err != nil {
		return fmt.Errorf("virtual CD %s: %w", iso, err)
	}
	root, err := img.RootDir()
	if err != nil {
		return fmt.Errorf("virtual CD %s: %w", iso, err)
	}
	for _, p := range cdFiles {
		f, err := lookupCD(root, p)
		if err != nil {
			return fmt.Errorf("virtual CD %s: %s: %w", iso, p, err)
		}
		if err := readWhole(f); err != nil {
			return fmt.Errorf("virtual CD %s: read %s: %w", iso, p, err)
		}
	}
	return nil
}

// cdRead is the most a boot loader reads from the CD in one request.
const cdRead = 1 << 20

// readWhole reads a file off the CD in requests of up to cdRead bytes, as a boot loader
// loads a kernel (not in the 32 KiB of an io.Copy).
func readWhole(f *iso9660.File) error {
	sr, ok := f.Reader().(*io.SectionReader)
	if !ok {
		return errors.New("not a file")
	}
	buf := make([]byte, min(sr.Size(), cdRead))
	for off := int64(0); off < sr.Size(); off += int64(len(buf)) {
		chunk := buf[:min(int64(len(buf)), sr.Size()-off)]
		if _, err := sr.ReadAt(chunk, off); err != nil {
			return err
		}
	}
	return nil
}

// lookupCD finds a file by its path, comparing names as ISO 9660 stores them (upper case,
// without the ";1" version).
func lookupCD(dir *iso9660.File, path string) (*iso9660.File, error) {
	cur := dir
	for _, el := range strings.Split(path, "/") {
		children, err := cur.GetChildren()
		if err != nil {
			return nil, err
		}
		var next *iso9660.File
		for _, c := range children {
			if strings.EqualFold(strings.TrimSuffix(c.Name(), ";1"), el) {
				next = c
			}
		}
		if next == nil {
			return nil, errors.New("not on the CD")
		}
		cur = next
	}
	return cur, nil
}

// rangeReader reads an image over HTTP, one Range request per ReadAt, and insists on 206
// answers whose Content-Range starts where asked and names one image size throughout.
type rangeReader struct {
	ctx  context.Context
	url  string
	read func() // called for every range read
	size int64  // the image size, from the first Content-Range
}

func (r *rangeReader) ReadAt(p []byte, off int64) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if r.size > 0 && off >= r.size {
		return 0, io.EOF
	}
	req, err := http.NewRequestWithContext(r.ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+int64(len(p))-1))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusRequestedRangeNotSatisfiable {
		return 0, io.EOF
	}
	if resp.StatusCode != http.StatusPartialContent {
		return 0, fmt.Errorf("GET %s with Range: %s, want 206 Partial Content", r.url, resp.Status)
	}
	first, last, size, err := parseContentRange(resp.Header.Get("Content-Range"))
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", r.url, err)
	}
	if first != off || last < first || last-first+1 > int64(len(p)) || (r.size != 0 && size != r.size) {
		return 0, fmt.Errorf("GET %s: Content-Range %q does not answer bytes %d-%d of a %d-byte image", r.url, resp.Header.Get("Content-Range"), off, off+int64(len(p))-1, r.size)
	}
	r.size = size
	r.read()
	n, err := io.ReadFull(resp.Body, p[:last-first+1])
	if err != nil {
		return n, fmt.Errorf("GET %s: %w", r.url, err)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// parseContentRange parses "bytes first-last/size".
func parseContentRange(v string) (first, last, size int64, err error) {
	bad := fmt.Errorf("bad Content-Range %q", v)
	rest, ok := strings.CutPrefix(v, "bytes ")
	if !ok {
		return 0, 0, 0, bad
	}
	span, total, ok := strings.Cut(rest, "/")
	a, b, ok2 := strings.Cut(span, "-")
	if !ok || !ok2 {
		return 0, 0, 0, bad
	}
	if first, err = strconv.ParseInt(a, 10, 64); err != nil {
		return 0, 0, 0, bad
	}
	if last, err = strconv.ParseInt(b, 10, 64); err != nil {
		return 0, 0, 0, bad
	}
	if size, err = strconv.ParseInt(total, 10, 64); err != nil || last >= size {
		return 0, 0, 0, bad
	}
	return first, last, size, nil
}
