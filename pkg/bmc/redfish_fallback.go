package bmc

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
)

// Fallbacks the Redfish driver may take, in the order each operation tries them. Each is
// logged once per BMC (at warn) when first taken and listed by Probe.
const (
	fallbackBasicAuth     = "basic-auth"           // the BMC has no session service: basic auth
	fallbackOnceRefused   = "once-as-continuous"   // one-time boot refused: Continuous
	fallbackUsbCd         = "cd-as-usbcd"          // cd boots UsbCd
	fallbackMediaPatch    = "media-by-patch"       // no InsertMedia action: PATCH the media
	fallbackNoOptional    = "insert-without-flags" // Inserted/WriteProtected refused: left out
	fallbackTransferProto = "insert-transfer-protocol"
)

// fallbacks remembers what a BMC refused, so later calls go straight to what works, and logs
// each fallback once.
type fallbacks struct {
	mu   sync.Mutex
	log  *slog.Logger
	seen map[string]bool
	list []string // "key: why", in the order taken
}

func (f *fallbacks) setLogger(l *slog.Logger) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = l
}

// take records a fallback (once) and says whether it was new.
func (f *fallbacks) take(key, format string, args ...any) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seen[key] {
		return false
	}
	if f.seen == nil {
		f.seen = map[string]bool{}
	}
	f.seen[key] = true
	why := fmt.Sprintf(format, args...)
	f.list = append(f.list, key+": "+why)
	log := f.log
	if log == nil {
		log = slog.Default()
	}
	log.Warn("bmc: redfish fallback", "fallback", key, "why", why)
	return true
}

func (f *fallbacks) has(key string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seen[key]
}

func (f *fallbacks) taken() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.list...)
}

// splitRedfishAddress takes a BMC's URL (https://bmc, https://bmc/redfish/v1) or a system's
// (https://bmc/redfish/v1/Systems/<id>, as Metal3 and Ironic write it) and returns the
// service endpoint and the system's id ("" for the first form).
func splitRedfishAddress(address string) (endpoint, systemID string, err error) {
	u, err := url.Parse(address)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", "", fmt.Errorf("%w: redfish address %q: want an http(s) URL such as https://10.0.0.11", ErrInvalid, address)
	}
	p := strings.TrimSuffix(u.EscapedPath(), "/")
	base := u.Scheme + "://" + u.Host
	switch {
	case p == "" || p == "/redfish/v1":
		return base, "", nil
	case strings.HasPrefix(p, "/redfish/v1/Systems/") && !strings.Contains(strings.TrimPrefix(p, "/redfish/v1/Systems/"), "/"):
		id, err := url.PathUnescape(strings.TrimPrefix(p, "/redfish/v1/Systems/"))
		if err == nil && id != "" {
			return base, id, nil
		}
	}
	return "", "", fmt.Errorf("%w: redfish address %q: want the BMC's URL (https://host) or a system's (https://host/redfish/v1/Systems/ID)", ErrInvalid, address)
}
