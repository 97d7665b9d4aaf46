package pxe

import (
	"errors"
	"fmt"
	"net"
	"path"
	"strings"
)

// errBadName is returned for file names and paths that are refused.
var errBadName = errors.New("refused file name")

const maxNameLen = 255

// cleanFileName checks a file name a client asked for (TFTP, or HTTP for the same folder) and
// returns it as a relative, clean, slash-separated path inside the served folder. Refused:
// empty names, absolute paths, "." and ".." elements, backslashes, control characters and
// non-ASCII bytes, names that are not already clean ("a//b", "a/"), names over 255 bytes.
func cleanFileName(name string) (string, error) {
	if name == "" || len(name) > maxNameLen {
		return "", fmt.Errorf("%w: length %d", errBadName, len(name))
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x21 || c > 0x7e || c == '\\' {
			return "", fmt.Errorf("%w: byte %#x at %d", errBadName, c, i)
		}
	}
	if strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("%w: absolute path %q", errBadName, name)
	}
	for _, el := range strings.Split(name, "/") {
		if el == "" || el == "." || el == ".." {
			return "", fmt.Errorf("%w: path element %q in %q", errBadName, el, name)
		}
	}
	if path.Clean(name) != name {
		return "", fmt.Errorf("%w: %q is not a clean path", errBadName, name)
	}
	return name, nil
}

// routeKind says what an HTTP boot path asks for.
type routeKind int

const (
	routeChain    routeKind = iota + 1 // /boot.ipxe
	routeScript                        // /boot/<mac>.ipxe
	routeArtifact                      // /artifacts/<name>
	routeISO                           // /iso/<name>
	routeFile                          // /<file in the iPXE folder>
	routeAutoexec                      // /autoexec.ipxe
)

// route is a parsed HTTP boot path.
type route struct {
	kind routeKind
	mac  net.HardwareAddr // routeScript
	name string           // routeArtifact, routeISO, routeFile
}

// parsePath parses an HTTP request path (already unescaped). MACs are accepted with hyphens
// (52-54-00-00-00-11, what DHCP hands out) or colons (what ${net0/mac} expands to), in
// either case; only 6-byte Ethernet MACs.
func parsePath(p string) (route, error) {
	switch {
	case p == "/boot.ipxe":
		return route{kind: routeChain}, nil
	case p == "/autoexec.ipxe":
		return route{kind: routeAutoexec}, nil
	case strings.HasPrefix(p, "/boot/"):
		m, ok := strings.CutSuffix(p[len("/boot/"):], ".ipxe")
		if !ok || len(m) != 17 {
			return route{}, fmt.Errorf("%w: want /boot/<mac>.ipxe, got %q", errBadName, p)
		}
		mac, err := net.ParseMAC(strings.ReplaceAll(m, "-", ":"))
		if err != nil || len(mac) != 6 {
			return route{}, fmt.Errorf("%w: bad MAC in %q", errBadName, p)
		}
		return route{kind: routeScript, mac: mac}, nil
	case strings.HasPrefix(p, "/artifacts/"):
		name, err := oneElement(p[len("/artifacts/"):])
		return route{kind: routeArtifact, name: name}, err
	case strings.HasPrefix(p, "/iso/"):
		name, err := oneElement(p[len("/iso/"):])
		return route{kind: routeISO, name: name}, err
	case strings.HasPrefix(p, "/"):
		name, err := cleanFileName(p[1:])
		return route{kind: routeFile, name: name}, err
	}
	return route{}, fmt.Errorf("%w: %q", errBadName, p)
}

// oneElement accepts a single clean path element.
func oneElement(s string) (string, error) {
	name, err := cleanFileName(s)
	if err == nil && strings.Contains(name, "/") {
		err = fmt.Errorf("%w: %q has more than one element", errBadName, s)
	}
	return name, err
}

// macKey is the form MACs take in the store and in URLs: lower case, hyphens.
func macKey(mac net.HardwareAddr) string {
	return strings.ReplaceAll(strings.ToLower(mac.String()), ":", "-")
}
