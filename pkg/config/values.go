package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"time"
)

// MAC is a hardware address in canonical lower-case colon form (52:54:00:00:00:11).
type MAC string

// UnmarshalText accepts six hex pairs separated by colons or dashes, in either case.
func (m *MAC) UnmarshalText(b []byte) error {
	mac, err := ParseMAC(string(b))
	if err != nil {
		return err
	}
	*m = mac
	return nil
}

// ParseMAC parses an Ethernet (EUI-48) address and returns its canonical form.
func ParseMAC(s string) (MAC, error) {
	hw, err := net.ParseMAC(strings.ReplaceAll(s, "-", ":"))
	if err != nil || len(hw) != 6 || strings.Count(s, ":")+strings.Count(s, "-") != 5 {
		return "", fmt.Errorf("%q is not a MAC address; want six hex pairs like 52:54:00:00:00:11", s)
	}
	return MAC(hw.String()), nil
}

// HardwareAddr returns the address as bytes.
func (m MAC) HardwareAddr() net.HardwareAddr {
	hw, _ := net.ParseMAC(string(m))
	return hw
}

// Range is an inclusive range of IPv4 addresses, written "first-last".
type Range struct {
	First, Last netip.Addr
}

func (r *Range) UnmarshalText(b []byte) error {
	s := string(b)
	first, last, ok := strings.Cut(s, "-")
	a, errA := netip.ParseAddr(strings.TrimSpace(first))
	z, errZ := netip.ParseAddr(strings.TrimSpace(last))
	if !ok || errA != nil || errZ != nil || !a.Is4() || !z.Is4() {
		return fmt.Errorf("%q is not an address range; want first-last, like 172.16.0.50-172.16.0.99", s)
	}
	if z.Less(a) {
		return fmt.Errorf("range %q ends before it starts", s)
	}
	r.First, r.Last = a, z
	return nil
}

func (r Range) MarshalText() ([]byte, error) {
	if !r.IsSet() {
		return []byte{}, nil
	}
	return []byte(r.First.String() + "-" + r.Last.String()), nil
}

// IsSet reports whether the range was given.
func (r Range) IsSet() bool { return r.First.IsValid() }

// Contains reports whether a lies in the range.
func (r Range) Contains(a netip.Addr) bool {
	return r.IsSet() && a.Is4() && !a.Less(r.First) && !r.Last.Less(a)
}

// Size is the number of addresses in the range.
func (r Range) Size() int {
	if !r.IsSet() {
		return 0
	}
	f, l := r.First.As4(), r.Last.As4()
	return int(be32(l[:])-be32(f[:])) + 1
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// Endpoint is an IP address with an optional port ("192.0.2.53" or "192.0.2.53:5353");
// the port is filled in from a default when the address is resolved.
type Endpoint struct {
	Addr netip.Addr
	Port uint16 // 0: the default for the protocol
}

func (e *Endpoint) UnmarshalText(b []byte) error {
	s := string(b)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		*e = Endpoint{Addr: ap.Addr(), Port: ap.Port()}
		return nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		*e = Endpoint{Addr: a}
		return nil
	}
	return fmt.Errorf("%q is not an address; want an IP address with an optional port, like 192.0.2.53 or 127.0.0.1:5353", s)
}

func (e Endpoint) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

func (e Endpoint) String() string {
	if e.Port == 0 {
		return e.Addr.String()
	}
	return netip.AddrPortFrom(e.Addr, e.Port).String()
}

// WithDefaultPort returns the endpoint as an AddrPort, using port when none was given.
func (e Endpoint) WithDefaultPort(port uint16) netip.AddrPort {
	if e.Port != 0 {
		port = e.Port
	}
	return netip.AddrPortFrom(e.Addr, port)
}

// Duration is a time.Duration written as Go writes it: 90s, 20m, 1h30m.
type Duration time.Duration

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil || v < 0 {
		return fmt.Errorf("%q is not a duration; want a positive number with a unit, like 30s, 20m or 1h", string(b))
	}
	*d = Duration(v)
	return nil
}

func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// EnvRef names an environment variable that holds a secret, written ${NAME}.
// Secrets are never written into the lab file itself.
type EnvRef string

var envRefRE = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`)

func (r *EnvRef) UnmarshalText(b []byte) error {
	m := envRefRE.FindStringSubmatch(string(b))
	if m == nil {
		return fmt.Errorf("secrets are not written into the lab file: give ${ENV_VAR} here, or use the matching ...File key with a path")
	}
	*r = EnvRef(m[1])
	return nil
}

func (r EnvRef) MarshalText() ([]byte, error) {
	if r == "" {
		return []byte{}, nil
	}
	return []byte("${" + string(r) + "}"), nil
}

// Secret holds a loaded secret. It never prints, marshals or logs its content;
// Reveal is the one way to read it, for the code that sends it to its destination.
type Secret struct {
	value []byte
}

const redacted = "[redacted]"

// NewSecret wraps a secret value.
func NewSecret(b []byte) Secret { return Secret{value: append([]byte(nil), b...)} }

// Reveal returns the secret's content.
func (s Secret) Reveal() []byte { return s.value }

// IsSet reports whether a value was loaded.
func (s Secret) IsSet() bool { return len(s.value) > 0 }

func (s Secret) String() string               { return redacted }
func (s Secret) GoString() string             { return redacted }
func (s Secret) LogValue() slog.Value         { return slog.StringValue(redacted) }
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(redacted) }
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
