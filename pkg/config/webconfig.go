package config

import (
	"os"

	"github.com/prometheus/exporter-toolkit/web"
	"go.yaml.in/yaml/v3"
)

// checkWebConfig reads status.webConfigFile as the exporter toolkit will when it serves
// (certificates, keys and bcrypt hashes included) and requires it to turn on TLS, basic
// auth, or both: a web config that does neither protects nothing.
func checkWebConfig(ps *problems, path string) {
	const key = "status.webConfigFile"
	b, err := os.ReadFile(path)
	if err != nil {
		ps.errorf(key, "%v", err)
		return
	}
	if err := web.Validate(path); err != nil {
		ps.errorf(key, "%s is not a valid Prometheus web config: %v", path, err)
		return
	}
	var c struct {
		TLS struct {
			Cert     string `yaml:"cert"`
			CertFile string `yaml:"cert_file"`
		} `yaml:"tls_server_config"`
		Users map[string]string `yaml:"basic_auth_users"`
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		ps.errorf(key, "%s is not a valid Prometheus web config: %v", path, err)
		return
	}
	if c.TLS.Cert == "" && c.TLS.CertFile == "" && len(c.Users) == 0 {
		ps.errorf(key, "%s turns on neither TLS (tls_server_config) nor basic auth (basic_auth_users); it would protect nothing", path)
	}
}
