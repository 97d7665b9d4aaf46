package pxe

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/kdomanski/iso9660"
)

// ISOSource fills the cache from a discovery ISO: images/pxeboot/vmlinuz, initrd.img and
// rootfs.img, plus images/ignition.img and images/assisted_installer_custom.img (the discovery
// ignition and the installer's additions, loaded as extra initrds after initrd.img, as the
// ISO's own boot menu does). The kernel arguments come from the ISO's boot menu
// (EFI/redhat/grub.cfg or isolinux/isolinux.cfg), without coreos.liveiso= (which only makes
// sense when booting the ISO itself); without a menu, DefaultKernelArgs.
type ISOSource struct {
	Path string
}

// DefaultKernelArgs are the discovery kernel arguments when the image names none.
var DefaultKernelArgs = []string{"ignition.firstboot", "ignition.platform.id=metal"}

func (s *ISOSource) String() string { return "iso " + s.Path }

// Fetch implements Source.
func (s *ISOSource) Fetch(ctx context.Context, dir string, _ *Manifest) (Manifest, error) {
	f, err := os.Open(s.Path)
	if err != nil {
		return Manifest{}, err
	}
	defer f.Close()
	img, err := iso9660.OpenImage(f)
	if err != nil {
		return Manifest{}, fmt.Errorf("read ISO %s: %w", s.Path, err)
	}
	root, err := img.RootDir()
	if err != nil {
		return Manifest{}, fmt.Errorf("read ISO %s: %w", s.Path, err)
	}
	extract := func(isoPath, name string, required bool) (Artifact, bool, error) {
		file, err := lookupISO(root, isoPath)
		if err != nil || file.IsDir() {
			if required {
				return Artifact{}, false, fmt.Errorf("ISO %s has no %s", s.Path, isoPath)
			}
			return Artifact{}, false, nil
		}
		if err := ctx.Err(); err != nil {
			return Artifact{}, false, err
		}
		err = copyFileAtomic(filepath.Join(dir, name), func(w io.Writer) (int64, error) {
			return io.Copy(w, ctxReader{ctx, file.Reader()})
		}, file.Size())
		if err != nil {
			return Artifact{}, false, fmt.Errorf("extract %s from %s: %w", isoPath, s.Path, err)
		}
		return Artifact{Name: name, Size: file.Size(), Origin: s.Path + ":" + isoPath}, true, nil
	}
	var m Manifest
	if m.Kernel, _, err = extract("images/pxeboot/vmlinuz", "kernel", true); err != nil {
		return Manifest{}, err
	}
	initrd, _, err := extract("images/pxeboot/initrd.img", "initrd", true)
	if err != nil {
		return Manifest{}, err
	}
	m.Initrds = append(m.Initrds, initrd)
	if m.Rootfs, _, err = extract("images/pxeboot/rootfs.img", "rootfs", true); err != nil {
		return Manifest{}, err
	}
	for i, extra := range []string{"images/ignition.img", "images/assisted_installer_custom.img"} {
		a, ok, err := extract(extra, fmt.Sprintf("initrd-%d", i+2), false)
		if err != nil {
			return Manifest{}, err
		}
		if ok {
			m.Initrds = append(m.Initrds, a)
		}
	}
	m.KernelArgs = DefaultKernelArgs
	for _, menu := range []string{"EFI/redhat/grub.cfg", "isolinux/isolinux.cfg"} {
		if file, err := lookupISO(root, menu); err == nil && !file.IsDir() && file.Size() < 1<<20 {
			if args, ok := menuKernelArgs(file.Reader()); ok {
				m.KernelArgs = args
				break
			}
		}
	}
	return m, nil
}

// lookupISO finds a file by its path; names compare case-insensitively and without the
// ";1" version suffix, so plain ISO 9660 names match as well as Rock Ridge or Joliet ones.
func lookupISO(dir *iso9660.File, p string) (*iso9660.File, error) {
	cur := dir
	for _, el := range strings.Split(p, "/") {
		if !cur.IsDir() {
			return nil, os.ErrNotExist
		}
		children, err := cur.GetChildren()
		if err != nil {
			return nil, err
		}
		var next *iso9660.File
		for _, c := range children {
			if isoNameEqual(c.Name(), el) {
				next = c
				break
			}
		}
		if next == nil {
			return nil, os.ErrNotExist
		}
		cur = next
	}
	return cur, nil
}

func isoNameEqual(isoName, want string) bool {
	n, _, _ := strings.Cut(isoName, ";")
	n = strings.TrimSuffix(n, ".")
	// Plain ISO 9660 level 1 turns "-" into "_" and upper-cases.
	return strings.EqualFold(n, want) || strings.EqualFold(n, strings.ReplaceAll(want, "-", "_"))
}

// menuKernelArgs finds the first "linux /images/pxeboot/vmlinuz ARGS" (grub) or the
// "append ARGS" following "kernel /images/pxeboot/vmlinuz" (isolinux) and returns ARGS
// without initrd= and coreos.liveiso=.
func menuKernelArgs(r io.Reader) ([]string, bool) {
	sc := bufio.NewScanner(r)
	sawKernel := false
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		var args []string
		switch {
		case (f[0] == "linux" || f[0] == "linuxefi") && strings.HasSuffix(f[1], "/images/pxeboot/vmlinuz"):
			args = f[2:]
		case f[0] == "kernel" && strings.HasSuffix(f[1], "/images/pxeboot/vmlinuz"):
			sawKernel = true
			continue
		case f[0] == "append" && sawKernel:
			args = f[1:]
		default:
			continue
		}
		out := []string{}
		for _, a := range args {
			if !strings.HasPrefix(a, "initrd=") && !strings.HasPrefix(a, "coreos.liveiso=") {
				out = append(out, a)
			}
		}
		return out, true
	}
	return nil, false
}

// ctxReader stops a long copy when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
