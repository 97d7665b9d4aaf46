package bmc

import (
	"encoding/xml"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Domain XML is edited as text, element by element, so everything the edit does not touch
// stays byte for byte as libvirt wrote it.

var (
	osBlockRe   = regexp.MustCompile(`(?s)<os\b[^>]*>.*?</os>`)
	osBootRe    = regexp.MustCompile(`\s*<boot\s+dev=[^>]*/>`)
	devBootRe   = regexp.MustCompile(`\s*<boot\s+order=[^>]*/>`)
	cdromRe     = regexp.MustCompile(`(?s)<disk\b[^>]*\bdevice=['"]cdrom['"][^>]*>.*?</disk>`)
	targetRe    = regexp.MustCompile(`<target\b[^>]*/>`)
	addressRe   = regexp.MustCompile(`<address\b[^>]*/>`)
	machineQ35  = regexp.MustCompile(`<type\b[^>]*machine=['"][^'"]*q35`)
	uefiRe      = regexp.MustCompile(`<os\b[^>]*firmware=['"]efi['"]|<loader\b[^>]*type=['"]pflash['"]`)
	devicesEnd  = "</devices>"
	libvirtDevs = map[BootDevice][]string{BootPXE: {"network", "hd"}, BootCD: {"cdrom", "hd"}, BootDisk: {"hd"}}
)

func domainIsUEFI(x string) bool { return uefiRe.MatchString(x) }

// setBootOrder replaces the <os> boot list and drops per-device boot orders, which libvirt
// does not allow together with it.
func setBootOrder(x string, dev BootDevice) (string, error) {
	loc := osBlockRe.FindStringIndex(x)
	if loc == nil {
		return "", fmt.Errorf("%w: the domain definition has no <os> element", ErrNotSupported)
	}
	if _, ok := libvirtDevs[dev]; !ok {
		return "", fmt.Errorf("%w: libvirt has no boot device %s", ErrNotSupported, dev)
	}
	block := osBootRe.ReplaceAllString(x[loc[0]:loc[1]], "")
	var boots strings.Builder
	for _, b := range libvirtDevs[dev] {
		fmt.Fprintf(&boots, "  <boot dev='%s'/>\n  ", b)
	}
	end := strings.LastIndex(block, "</os>")
	block = strings.TrimRight(block[:end], " \n") + "\n  " + boots.String() + block[end:]
	x = x[:loc[0]] + block + x[loc[1]:]
	return devBootRe.ReplaceAllString(x, ""), nil
}

// setCDROM points the domain's CD drive at image, or empties it when image is "". A domain
// without a CD drive gets one (SATA on q35, IDE otherwise) when there is an image to insert.
func setCDROM(x, image string) (string, error) {
	src, typ := "", "file"
	if image != "" {
		var err error
		if src, typ, err = cdromSource(image); err != nil {
			return "", err
		}
	}
	loc := cdromRe.FindStringIndex(x)
	if loc == nil {
		if image == "" {
			return x, nil
		}
		target := "<target dev='hdc' bus='ide'/>"
		if machineQ35.MatchString(x) {
			target = "<target dev='sdc' bus='sata'/>"
		}
		i := strings.LastIndex(x, devicesEnd)
		if i < 0 {
			return "", fmt.Errorf("%w: the domain definition has no <devices> element", ErrNotSupported)
		}
		return x[:i] + cdromDisk(typ, src, target, "") + "\n  " + x[i:], nil
	}
	old := x[loc[0]:loc[1]]
	target := targetRe.FindString(old)
	if target == "" {
		target = "<target dev='hdc' bus='ide'/>"
	}
	return x[:loc[0]] + cdromDisk(typ, src, target, addressRe.FindString(old)) + x[loc[1]:], nil
}

func cdromDisk(typ, src, target, address string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<disk type='%s' device='cdrom'>\n      <driver name='qemu' type='raw'/>\n", typ)
	if src != "" {
		b.WriteString("      " + src + "\n")
	}
	b.WriteString("      " + target + "\n      <readonly/>\n")
	if address != "" {
		b.WriteString("      " + address + "\n")
	}
	b.WriteString("    </disk>")
	return b.String()
}

// cdromSource is the <source> of a CD: a network source for http(s) URLs, a file otherwise.
func cdromSource(image string) (src, typ string, err error) {
	if strings.HasPrefix(image, "http://") || strings.HasPrefix(image, "https://") {
		u, err := url.Parse(image)
		if err != nil || u.Hostname() == "" {
			return "", "", fmt.Errorf("%w: image URL %q", ErrInvalid, image)
		}
		port := u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
		}
		name := u.EscapedPath()
		if u.RawQuery != "" {
			name += "?" + u.RawQuery
		}
		return fmt.Sprintf("<source protocol='%s' name='%s'>\n        <host name='%s' port='%s'/>\n      </source>",
			u.Scheme, attr(name), attr(u.Hostname()), port), "network", nil
	}
	if !strings.HasPrefix(image, "/") {
		return "", "", fmt.Errorf("%w: image %q: want an http(s) URL or an absolute file path", ErrInvalid, image)
	}
	return fmt.Sprintf("<source file='%s'/>", attr(image)), "file", nil
}

func attr(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return strings.ReplaceAll(b.String(), "'", "&#39;")
}
