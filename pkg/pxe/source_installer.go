package pxe

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// InstallerSource fills the cache from the Assisted Installer: it reads the infra env's iPXE
// script (downloads/files?file_name=ipxe-script), downloads the kernel, initrds and rootfs it
// names, and keeps the kernel arguments. The per-MAC script then boots the same image from the
// appliance (the rewrite assisted-test-infra does by hand).
type InstallerSource struct {
	// Script returns the iPXE script; see ScriptURL and ScriptBytes.
	Script func(ctx context.Context) ([]byte, error)
	// Client downloads the artifacts (nil: a client with a 30 s header timeout).
	Client *http.Client
	// Name names the source in logs (default "installer").
	Name string
	// Attempts per file, each resuming the last (default 3).
	Attempts int
}

// ScriptURL returns a Script func that GETs url with client (nil: http.DefaultClient).
func ScriptURL(url string, client *http.Client) func(context.Context) ([]byte, error) {
	if client == nil {
		client = http.DefaultClient
	}
	return func(ctx context.Context) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, fmt.Errorf("get iPXE script: %w", err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("get iPXE script %s: %w", redactURL(url), err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("get iPXE script %s: %s", redactURL(url), resp.Status)
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return nil, fmt.Errorf("get iPXE script %s: %w", redactURL(url), err)
		}
		return b, nil
	}
}

// ScriptBytes returns a Script func that returns b.
func ScriptBytes(b []byte) func(context.Context) ([]byte, error) {
	return func(context.Context) ([]byte, error) { return b, nil }
}

func (s *InstallerSource) String() string {
	if s.Name != "" {
		return s.Name
	}
	return "installer"
}

// installerScript is what the installer's iPXE script names.
type installerScript struct {
	kernel     string
	initrds    []string
	rootfs     string
	kernelArgs []string
}

// parseInstallerScript reads the lines the Assisted Installer writes:
//
//	#!ipxe
//	initrd --name initrd <initrd URL>
//	kernel <kernel URL> initrd=initrd coreos.live.rootfs_url=<rootfs URL> <args...>
//	boot
func parseInstallerScript(b []byte) (installerScript, error) {
	var s installerScript
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := splitArgs(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		args := f[1:]
		for len(args) > 0 && strings.HasPrefix(args[0], "-") { // --name X, --timeout N, -n X
			if strings.Contains(args[0], "=") || len(args) < 2 {
				args = args[1:]
			} else {
				args = args[2:]
			}
		}
		switch f[0] {
		case "initrd", "module":
			if len(args) == 0 {
				return s, fmt.Errorf("iPXE script: %q names no file", sc.Text())
			}
			s.initrds = append(s.initrds, args[0])
		case "kernel", "chain", "imgexec":
			if len(args) == 0 {
				return s, fmt.Errorf("iPXE script: %q names no file", sc.Text())
			}
			if s.kernel != "" {
				return s, errors.New("iPXE script: more than one kernel")
			}
			s.kernel = args[0]
			for _, a := range args[1:] {
				switch {
				case strings.HasPrefix(a, "initrd="):
				case strings.HasPrefix(a, "coreos.live.rootfs_url="):
					s.rootfs = strings.TrimPrefix(a, "coreos.live.rootfs_url=")
				default:
					s.kernelArgs = append(s.kernelArgs, a)
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return s, fmt.Errorf("iPXE script: %w", err)
	}
	if s.kernel == "" || len(s.initrds) == 0 || s.rootfs == "" {
		return s, errors.New("iPXE script: want a kernel line with coreos.live.rootfs_url= and an initrd line (is this the boot-order-control script? ask for the plain ipxe-script)")
	}
	for _, u := range append([]string{s.kernel, s.rootfs}, s.initrds...) {
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			return s, fmt.Errorf("iPXE script: %s is not an http(s) URL", redactURL(u))
		}
	}
	return s, nil
}

// splitArgs splits a script line into words at blanks outside double quotes, as the kernel
// reads its command line: `a="b c" d` is two words, `a="b c"` (quotes kept) and `d`. The
// installer quotes coreos.inst.persistent-kargs this way.
func splitArgs(line string) []string {
	var out []string
	var word strings.Builder
	quoted, inWord := false, false
	for _, r := range line {
		switch {
		case r == '"':
			quoted = !quoted
			word.WriteRune(r)
			inWord = true
		case (r == ' ' || r == '\t') && !quoted:
			if inWord {
				out = append(out, word.String())
				word.Reset()
				inWord = false
			}
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		out = append(out, word.String())
	}
	return out
}

// Fetch implements Source. The kernel and rootfs are generic per OpenShift version: they are
// downloaded again only when their URL changed. The initrd carries the infra env's discovery
// ignition and is downloaded every time.
func (s *InstallerSource) Fetch(ctx context.Context, dir string, prev *Manifest) (Manifest, error) {
	if s.Script == nil {
		return Manifest{}, errors.New("no iPXE script")
	}
	b, err := s.Script(ctx)
	if err != nil {
		return Manifest{}, err
	}
	sc, err := parseInstallerScript(b)
	if err != nil {
		return Manifest{}, err
	}
	client := s.Client
	if client == nil {
		client = &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, ResponseHeaderTimeout: 30 * time.Second}}
	}
	attempts := s.Attempts
	if attempts <= 0 {
		attempts = 3
	}
	get := func(name, url string, reuse bool) (Artifact, error) {
		if reuse && prev != nil {
			if a, ok := prev.artifact(name); ok && a.Key == originKey(url) {
				if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && fi.Size() == a.Size {
					return a, nil
				}
			}
		}
		n, err := downloadRetry(ctx, client, url, filepath.Join(dir, name), attempts)
		return Artifact{Name: name, Size: n, Origin: redactURL(url), Key: originKey(url)}, err
	}
	m := Manifest{KernelArgs: sc.kernelArgs}
	if m.Kernel, err = get("kernel", sc.kernel, true); err != nil {
		return Manifest{}, err
	}
	if m.Rootfs, err = get("rootfs", sc.rootfs, true); err != nil {
		return Manifest{}, err
	}
	for i, u := range sc.initrds {
		name := "initrd"
		if i > 0 {
			name = fmt.Sprintf("initrd-%d", i+1)
		}
		a, err := get(name, u, false)
		if err != nil {
			return Manifest{}, err
		}
		m.Initrds = append(m.Initrds, a)
	}
	return m, nil
}

// originKey identifies a URL without keeping it.
func originKey(url string) string {
	h := sha256.Sum256([]byte(url))
	return hex.EncodeToString(h[:12])
}
