package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// TestStatusWebConfig: a status listener beyond loopback loads with a web config that turns
// on basic auth; a web config that protects nothing, or is broken, is an error at its key.
func TestStatusWebConfig(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("scrape-secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, web, wantErr string
	}{
		{"basic auth", "basic_auth_users:\n  prometheus: " + string(hash) + "\n", ""},
		{"nothing on", "http_server_config:\n  http2: false\n", "turns on neither TLS (tls_server_config) nor basic auth"},
		{"unknown key", "basic_auth_user:\n  x: y\n", "is not a valid Prometheus web config"},
		{"missing cert", "tls_server_config:\n  cert_file: nowhere.crt\n  key_file: nowhere.key\n", "is not a valid Prometheus web config"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := writeLab(t, [2]string{"dns:\n", "status:\n  listen: 0.0.0.0:9180\n  webConfigFile: web.yml\ndns:\n"})
			if err := os.WriteFile(filepath.Join(filepath.Dir(path), "web.yml"), []byte(c.web), 0o600); err != nil {
				t.Fatal(err)
			}
			lab, err := Load(path)
			if c.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if want := filepath.Join(filepath.Dir(path), "web.yml"); lab.Status.WebConfigFile != want {
					t.Errorf("webConfigFile %q, want the absolute %q", lab.Status.WebConfigFile, want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "status.webConfigFile: ") || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("error %v, want one at status.webConfigFile saying %q", err, c.wantErr)
			}
		})
	}
}

func TestBootLimitDefaults(t *testing.T) {
	lab, err := Load(writeLab(t))
	if err != nil {
		t.Fatal(err)
	}
	b := lab.Boot
	if b.HTTPIdleTimeout != DefaultHTTPIdleTimeout || b.HTTPMaxConnectionsPerClient != DefaultHTTPMaxConnectionsPerClient || b.HTTPMaxConnections != 0 || b.AllowFrom != nil {
		t.Errorf("boot limits %+v", b)
	}
}
