package config

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// TestNTPServers: what each network is handed (option 42), where its nodes ask, the infra
// env's NTP sources, and whether the appliance serves NTP, for the ways a lab can say it.
func TestNTPServers(t *testing.T) {
	const (
		dataNet = "    address: 10.16.0.1\n"
		dnsKey  = "dns:\n"
	)
	addrs := func(s ...string) []netip.Addr {
		var out []netip.Addr
		for _, a := range s {
			out = append(out, netip.MustParseAddr(a))
		}
		return out
	}
	for _, tt := range []struct {
		name       string
		edits      [][2]string
		serve      bool
		ctrl, data []netip.Addr
		dataPort   uint16 // port of data's first endpoint
		infraEnv   string
		warning    string // "" for none
	}{
		{"nothing said: the appliance serves each network on its own address", nil,
			true, addrs("172.16.0.1"), addrs("10.16.0.1"), 123, "172.16.0.1", ""},
		{"a site server for every network: the appliance does not serve", [][2]string{{dnsKey, "dhcp:\n  ntpServers: [192.0.2.123]\n" + dnsKey}},
			false, addrs("192.0.2.123"), addrs("192.0.2.123"), 123, "192.0.2.123", ""},
		{"a site server, and the appliance serves anyway", [][2]string{{dnsKey, "ntp:\n  serve: true\ndhcp:\n  ntpServers: [192.0.2.123]\n" + dnsKey}},
			true, addrs("192.0.2.123"), addrs("192.0.2.123"), 123, "192.0.2.123", ""},
		{"the appliance's ctrl address for every network: data is told a ctrl address", [][2]string{{dnsKey, "dhcp:\n  ntpServers: [172.16.0.1]\n" + dnsKey}},
			true, addrs("172.16.0.1"), addrs("172.16.0.1"), 123, "172.16.0.1", `172.16.0.1 is the appliance's address on "ctrl": nodes on "data" reach it`},
		{"a site server for data only", [][2]string{{dataNet, dataNet + "    ntpServers: [192.0.2.123, 192.0.2.124]\n"}, {dnsKey, "ntp:\n  serve: true\n" + dnsKey}},
			true, addrs("172.16.0.1"), addrs("192.0.2.123", "192.0.2.124"), 123, "172.16.0.1", ""},
		{"data lists the appliance's ctrl address", [][2]string{{dataNet, dataNet + "    ntpServers: [172.16.0.1]\n"}},
			true, addrs("172.16.0.1"), addrs("172.16.0.1"), 123, "172.16.0.1", `list 10.16.0.1, the appliance's address on "data", instead`},
		{"another port, as the rehearsal moves it", [][2]string{{dnsKey, "ntp:\n  port: 12345\n  localStratum: 10\n" + dnsKey}},
			true, addrs("172.16.0.1"), addrs("10.16.0.1"), 12345, "172.16.0.1", ""},
		{"no NTP at all", [][2]string{{dnsKey, "ntp:\n  serve: false\n" + dnsKey}},
			false, nil, nil, 0, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lab, err := Load(writeLab(t, tt.edits...))
			if err != nil {
				t.Fatal(err)
			}
			if lab.NTP.Serving() != tt.serve {
				t.Errorf("serving %v, want %v", lab.NTP.Serving(), tt.serve)
			}
			if got := lab.NTPServers("ctrl"); !slices.Equal(got, tt.ctrl) {
				t.Errorf("ctrl is handed %v, want %v", got, tt.ctrl)
			}
			if got := lab.NTPServers("data"); !slices.Equal(got, tt.data) {
				t.Errorf("data is handed %v, want %v", got, tt.data)
			}
			if eps := lab.NTPEndpoints("data"); len(eps) != len(tt.data) || (len(eps) > 0 && eps[0].Port() != tt.dataPort) {
				t.Errorf("data's endpoints %v, want port %d", eps, tt.dataPort)
			}
			if got := lab.InfraEnvNTPSources(); got != tt.infraEnv {
				t.Errorf("infra env NTP sources %q, want %q", got, tt.infraEnv)
			}
			var warnings []string
			for _, w := range lab.Warnings {
				warnings = append(warnings, w.String())
			}
			switch {
			case tt.warning == "" && len(warnings) > 0:
				t.Errorf("warnings: %v", warnings)
			case tt.warning != "" && (len(warnings) != 1 || !strings.Contains(warnings[0], tt.warning)):
				t.Errorf("warnings %v, want one saying %q", warnings, tt.warning)
			}
		})
	}
}

// TestExampleLabNTP: the reference lab hands each network the appliance's address on it.
func TestExampleLabNTP(t *testing.T) {
	lab, err := Load("../../configs/lab.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for network, want := range map[string]string{"ctrl": "172.16.0.1:123", "data": "10.16.0.1:123"} {
		if got := lab.NTPEndpoints(network); len(got) != 1 || got[0].String() != want {
			t.Errorf("%s is handed %v, want %s", network, got, want)
		}
	}
	if !lab.NTP.Serving() || lab.NTP.LocalStratum != 0 || lab.InfraEnvNTPSources() != "172.16.0.1" {
		t.Errorf("ntp %+v, infra env sources %q", lab.NTP, lab.InfraEnvNTPSources())
	}
}
