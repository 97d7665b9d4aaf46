// Package labschema generates the JSON Schema of the lab file (configs/lab.schema.json) from
// pkg/config's types, for editors (yaml-language-server) to complete and check lab files. It
// is a separate package so the appliance's binary does not carry the generator. Regenerate
// with `go generate ./pkg/config`.
package labschema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"reflect"

	"github.com/invopop/jsonschema"

	"github.com/cn2-appliance/cn2-appliance/pkg/config"
)

// File is the schema's path in the repository, and ID the address editors fetch it from.
const (
	File = "configs/lab.schema.json"
	ID   = "https://raw.githubusercontent.com/cn2-appliance/cn2-appliance/main/configs/lab.schema.json"
)

// Regenerate is the one command that brings the schema up to date.
const Regenerate = "go generate ./pkg/config"

// Generate returns the schema, indented, with a final newline. Descriptions come from the
// types' Go comments, read from the Go files in configDir (pkg/config's folder; "" for none).
func Generate(configDir string) ([]byte, error) {
	r := &jsonschema.Reflector{
		FieldNameTag:               "yaml", // the lab file's keys; yaml:"-" fields are not in it
		RequiredFromJSONSchemaTags: true,   // every key has a default or is checked by validate
		ExpandedStruct:             true,
		Mapper:                     textTypes,
	}
	if configDir != "" {
		if err := r.AddGoComments("github.com/cn2-appliance/cn2-appliance/pkg/config", configDir); err != nil {
			return nil, fmt.Errorf("labschema: comments from %s: %w", configDir, err)
		}
	}
	s := r.Reflect(&config.Lab{})
	s.ID = ID
	s.Title = "cn2-appliance lab file"
	s.Description = "One lab: the OpenShift + CN2 cluster, the Assisted Installer, the lab networks, DNS, DHCP, NTP, network boot, the status page and the nodes. Generated from pkg/config (" + Regenerate + "); `cn2-appliance validate` checks more than this schema can (addresses inside their networks, unique MACs, secrets readable)."
	for def, enums := range enums {
		for prop, values := range enums {
			p, ok := s.Definitions[def].Properties.Get(prop)
			if !ok {
				return nil, fmt.Errorf("labschema: no property %s.%s for its allowed values", def, prop)
			}
			for _, v := range values {
				p.Enum = append(p.Enum, v)
			}
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// enums are the string keys that take one of a few values (definition, property, values),
// as pkg/config's validation accepts them.
var enums = map[string]map[string][]string{
	"AssistedInstaller": {"imageType": {"full-iso", "minimal-iso"}},
	"DHCP":              {"unknownClients": {"pool", "ignore"}},
	"Boot":              {"method": {config.BootPXE, config.BootVirtualMedia}},
	"Node":              {"role": {config.RoleControlPlane, config.RoleWorker}, "bootMethod": {config.BootPXE, config.BootVirtualMedia}},
	"BMC":               {"driver": {config.DriverRedfish, config.DriverIPMI, config.DriverLibvirt}},
}

// textTypes are the lab file's scalar types, written as strings.
func textTypes(t reflect.Type) *jsonschema.Schema {
	str := func(pattern, description string, examples ...any) *jsonschema.Schema {
		return &jsonschema.Schema{Type: "string", Pattern: pattern, Description: description, Examples: examples}
	}
	switch t {
	case reflect.TypeFor[netip.Addr]():
		return &jsonschema.Schema{Type: "string", AnyOf: []*jsonschema.Schema{{Format: "ipv4"}, {Format: "ipv6"}}, Examples: []any{"172.16.0.1"}}
	case reflect.TypeFor[netip.Prefix]():
		return str(`^[0-9A-Fa-f:.]+/[0-9]{1,3}$`, "a network in CIDR notation", "172.16.0.0/24")
	case reflect.TypeFor[config.MAC]():
		return str(`^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$`, "a MAC address: six hex pairs", "52:54:00:00:00:11")
	case reflect.TypeFor[config.Range]():
		return str(`^\s*[0-9.]+\s*-\s*[0-9.]+\s*$`, "an IPv4 address range, first-last", "172.16.0.50-172.16.0.99")
	case reflect.TypeFor[config.Endpoint]():
		return str(`^(\[[0-9A-Fa-f:.]+\]:[0-9]+|[0-9A-Fa-f:.]+)$|^[0-9.]+:[0-9]+$`, "an IP address with an optional port", "192.0.2.53", "127.0.0.1:5353")
	case reflect.TypeFor[config.Duration]():
		return str(`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`, "a duration with a unit", "30s", "20m", "1h")
	case reflect.TypeFor[config.EnvRef]():
		return str(`^\$\{[A-Za-z_][A-Za-z0-9_]*\}$`, "a secret from the environment: ${NAME}", "${CN2_PULL_SECRET}")
	}
	return nil
}
