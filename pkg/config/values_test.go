package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestParseMAC(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		ok       bool
	}{
		{"52:54:00:00:00:11", "52:54:00:00:00:11", true},
		{"52:54:00:AB:cd:11", "52:54:00:ab:cd:11", true},
		{"52-54-00-00-00-11", "52:54:00:00:00:11", true},
		{"52:54:00:00:11", "", false},
		{"5254.0000.0011", "", false},
		{"00:00:00:00:00:00:00:11", "", false},
		{"", "", false},
	} {
		got, err := ParseMAC(tt.in)
		if (err == nil) != tt.ok || string(got) != tt.want {
			t.Errorf("ParseMAC(%q) = %q, %v", tt.in, got, err)
		}
	}
}

func TestRange(t *testing.T) {
	var r Range
	if err := r.UnmarshalText([]byte("172.16.0.50-172.16.0.99")); err != nil {
		t.Fatal(err)
	}
	if r.Size() != 50 || !r.Contains(netip.MustParseAddr("172.16.0.50")) || !r.Contains(netip.MustParseAddr("172.16.0.99")) || r.Contains(netip.MustParseAddr("172.16.0.100")) {
		t.Errorf("range %+v size %d", r, r.Size())
	}
	for _, bad := range []string{"172.16.0.99-172.16.0.50", "172.16.0.50", "a-b", "::1-::2"} {
		if err := (&Range{}).UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("Range %q accepted", bad)
		}
	}
}

func TestEndpoint(t *testing.T) {
	var e Endpoint
	if err := e.UnmarshalText([]byte("192.0.2.53")); err != nil || e.WithDefaultPort(53).String() != "192.0.2.53:53" {
		t.Errorf("%v %v", e, err)
	}
	if err := e.UnmarshalText([]byte("127.0.0.1:5353")); err != nil || e.WithDefaultPort(53).String() != "127.0.0.1:5353" {
		t.Errorf("%v %v", e, err)
	}
	if err := e.UnmarshalText([]byte("dns.example")); err == nil {
		t.Error("host name accepted as endpoint")
	}
}

func TestDuration(t *testing.T) {
	var d Duration
	if err := d.UnmarshalText([]byte("1h30m")); err != nil || d.D() != 90*time.Minute {
		t.Errorf("%v %v", d, err)
	}
	for _, bad := range []string{"10", "-5m", "soon"} {
		if err := d.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("Duration %q accepted", bad)
		}
	}
}

func TestEnvRef(t *testing.T) {
	var r EnvRef
	if err := r.UnmarshalText([]byte("${PULL_SECRET}")); err != nil || r != "PULL_SECRET" {
		t.Errorf("%q %v", r, err)
	}
	for _, bad := range []string{"hunter2", "$PULL", "${1BAD}", "${A}b"} {
		if err := r.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("EnvRef %q accepted", bad)
		}
	}
}

// TestSecretNeverShows checks every way a secret could be printed.
func TestSecretNeverShows(t *testing.T) {
	s := NewSecret([]byte("TOPSECRET"))
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "secret", s)
	js, _ := json.Marshal(struct{ S Secret }{s})
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %q", s, s, s, s, s), logged.String(), string(js)} {
		if strings.Contains(out, "TOPSECRET") {
			t.Errorf("secret leaked: %s", out)
		}
	}
	if string(s.Reveal()) != "TOPSECRET" {
		t.Error("Reveal lost the value")
	}
}
