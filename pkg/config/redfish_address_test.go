package config

import (
	"errors"
	"strings"
	"testing"
)

func TestRedfishAddressForms(t *testing.T) {
	const base = `address: "https://127.0.0.1:8443", username: admin`
	for _, tc := range []struct {
		bmc, want string // want: "" valid, else the problem's text
	}{
		{`address: "https://127.0.0.1:8443/redfish/v1/", username: admin`, ""},
		{`address: "https://127.0.0.1:8443/redfish/v1/Systems/System.Embedded.1", username: admin`, ""},
		{`address: "https://127.0.0.1:8443/redfish/v1/Systems/1", systemID: "1", username: admin`, ""},
		{`address: "https://127.0.0.1:8443/redfish/v1/Systems/1", systemID: /redfish/v1/Systems/1, username: admin`, ""},
		{`address: "https://127.0.0.1:8443/redfish/v1/Systems/1", systemID: "2", username: admin`,
			`nodes[0].bmc.systemID: "2" differs from the system "1" the address names; give one of them`},
		{`address: "https://127.0.0.1:8443/redfish/v1/Managers/1", username: admin`,
			`nodes[0].bmc.address: "https://127.0.0.1:8443/redfish/v1/Managers/1" has the path /redfish/v1/Managers/1; give the BMC's URL`},
		{`address: "https://127.0.0.1:8443/redfish/v1/Systems/", username: admin`, "has the path /redfish/v1/Systems/"},
		{`address: "ftp://127.0.0.1", username: admin`, `nodes[0].bmc.address: "ftp://127.0.0.1" is not an http(s) URL`},
	} {
		_, err := Load(writeLab(t, [2]string{base, tc.bmc}))
		var cerr *Error
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.bmc, err)
		case tc.want != "" && (!errors.As(err, &cerr) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want %q", tc.bmc, err, tc.want)
		}
	}
}
