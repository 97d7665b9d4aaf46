package config

import (
	"net/url"
	"strings"
)

// redfishAddress checks a Redfish BMC's address: the BMC's URL (https://host, optionally
// /redfish/v1) or a system's, as Metal3 and Ironic write it (https://host/redfish/v1/Systems/ID),
// which selects that system (the bmc driver reads it from the address); systemID, if also
// given, must name the same system.
func (v *validator) redfishAddress(p string, b BMC) {
	u, err := url.Parse(b.Address)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.ps.errorf(p+".address", "%q is not an http(s) URL", b.Address)
		return
	}
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	if path == "" || path == "/redfish/v1" {
		return
	}
	id, err := url.PathUnescape(strings.TrimPrefix(path, "/redfish/v1/Systems/"))
	if !strings.HasPrefix(path, "/redfish/v1/Systems/") || err != nil || id == "" || strings.Contains(id, "/") {
		v.ps.errorf(p+".address", "%q has the path %s; give the BMC's URL (https://host) or a system's (https://host/redfish/v1/Systems/ID)", b.Address, u.Path)
		return
	}
	if b.SystemID != "" && b.SystemID != id && strings.TrimSuffix(b.SystemID, "/") != "/redfish/v1/Systems/"+id {
		v.ps.errorf(p+".systemID", "%q differs from the system %q the address names; give one of them", b.SystemID, id)
	}
}
