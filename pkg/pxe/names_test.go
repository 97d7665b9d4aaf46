package pxe

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestCleanFileName(t *testing.T) {
	for name, ok := range map[string]bool{
		"undionly.kpxe": true, "arm64/ipxe.efi": true, "a-b_c.1": true,
		"": false, "/undionly.kpxe": false, "../x": false, "a/../x": false, "..": false, ".": false,
		"./x": false, "a//b": false, "a/": false, `a\b`: false, "a b": false, "a\x00b": false,
		"é": false, strings.Repeat("a", 256): false,
	} {
		if _, err := cleanFileName(name); (err == nil) != ok {
			t.Errorf("cleanFileName(%q) err = %v, want ok=%v", name, err, ok)
		}
	}
}

func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		path string
		kind routeKind
		arg  string
	}{
		{"/boot.ipxe", routeChain, ""},
		{"/boot/52-54-00-00-00-11.ipxe", routeScript, "52:54:00:00:00:11"},
		{"/boot/52:54:00:00:00:1A.ipxe", routeScript, "52:54:00:00:00:1a"},
		{"/artifacts/kernel", routeArtifact, "kernel"},
		{"/iso/discovery.iso", routeISO, "discovery.iso"},
		{"/ipxe.efi", routeFile, "ipxe.efi"},
		{"/arm64/ipxe.efi", routeFile, "arm64/ipxe.efi"},
		{"/boot/52-54-00-00-00.ipxe", 0, ""},
		{"/boot/52-54-00-00-00-11-22-33.ipxe", 0, ""},
		{"/boot/52-54-00-00-00-11", 0, ""},
		{"/artifacts/../x", 0, ""},
		{"/artifacts/a/b", 0, ""},
		{"/iso/", 0, ""},
		{"/../etc/passwd", 0, ""},
		{"/", 0, ""},
		{"", 0, ""},
		{"boot.ipxe", 0, ""},
	} {
		rt, err := parsePath(tc.path)
		if tc.kind == 0 {
			if err == nil {
				t.Errorf("parsePath(%q) = %+v, want an error", tc.path, rt)
			}
			continue
		}
		arg := rt.name
		if rt.kind == routeScript {
			arg = rt.mac.String()
		}
		if err != nil || rt.kind != tc.kind || arg != tc.arg {
			t.Errorf("parsePath(%q) = %+v, %v; want kind %d arg %q", tc.path, rt, err, tc.kind, tc.arg)
		}
	}
}

// checkInside asserts the invariants of an accepted name: relative, no dot elements, and it
// stays inside any folder it is joined to.
func checkInside(t *testing.T, name string) {
	root := "/srv/tftp"
	j := filepath.Join(root, filepath.FromSlash(name))
	if !strings.HasPrefix(j, root+"/") || strings.HasPrefix(name, "/") {
		t.Fatalf("accepted %q escapes: %s", name, j)
	}
	for _, el := range strings.Split(name, "/") {
		if el == "" || el == "." || el == ".." {
			t.Fatalf("accepted %q has element %q", name, el)
		}
	}
}

func FuzzCleanFileName(f *testing.F) {
	for _, s := range []string{"undionly.kpxe", "../secret", "/etc/passwd", "a/./b", "a//b", "arm64/ipxe.efi", "..\\x", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got, err := cleanFileName(name)
		if err != nil {
			return
		}
		if got != name {
			t.Fatalf("cleanFileName(%q) = %q", name, got)
		}
		checkInside(t, got)
	})
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"/boot.ipxe", "/boot/52-54-00-00-00-11.ipxe", "/boot/52:54:00:00:00:11.ipxe", "/artifacts/kernel", "/iso/x.iso", "/ipxe.efi", "/../x", "/boot/../../x.ipxe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		rt, err := parsePath(p)
		if err != nil {
			return
		}
		switch rt.kind {
		case routeScript:
			if len(rt.mac) != 6 {
				t.Fatalf("%q: MAC %v", p, rt.mac)
			}
		case routeArtifact, routeISO:
			if strings.Contains(rt.name, "/") {
				t.Fatalf("%q: name %q has a slash", p, rt.name)
			}
			checkInside(t, rt.name)
		case routeFile:
			checkInside(t, rt.name)
		case routeChain:
		default:
			t.Fatalf("%q: kind %d", p, rt.kind)
		}
	})
}
