package config

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"golang.org/x/crypto/ssh"
)

// Load reads, decodes, defaults, validates a lab file and loads the secrets and files it names.
// On any error it returns an *Error listing every problem found, each with file, line, column
// and key path. Warnings of a usable lab are in Lab.Warnings.
func Load(path string) (*Lab, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read lab file: %w", err)
	}
	return Parse(path, data)
}

// Parse is Load for a lab file already in memory; relative paths in it are taken relative
// to the folder of file.
func Parse(file string, data []byte) (*Lab, error) {
	ps := &problems{file: file, pos: map[string]Position{}}
	lab := &Lab{File: file}
	if decodeYAML(ps, data, lab) {
		applyDefaults(lab)
		validate(ps, lab)
		loadFiles(ps, lab, filepath.Dir(file))
	}
	sortProblems(ps.list)
	if errs := ps.errors(); len(errs) > 0 {
		return nil, &Error{Problems: errs}
	}
	lab.Warnings = ps.warnings()
	return lab, nil
}

// loadFiles reads the secrets, the SSH key and the manifest list; paths become absolute.
func loadFiles(ps *problems, l *Lab, dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
		if a, err := filepath.Abs(*p); err == nil && *p != "" {
			*p = a
		}
	}
	c := &l.Cluster
	abs(&c.SSHPublicKeyFile)
	abs(&c.PullSecretFile)
	abs(&c.ManifestsDir)
	abs(&l.AssistedInstaller.OfflineTokenFile)
	abs(&l.Status.WebConfigFile)
	if l.Status.WebConfigFile != "" {
		checkWebConfig(ps, l.Status.WebConfigFile)
	}

	if c.SSHPublicKeyFile != "" {
		if b, err := os.ReadFile(c.SSHPublicKeyFile); err != nil {
			ps.errorf("cluster.sshPublicKeyFile", "%v", err)
		} else if _, _, _, _, err := ssh.ParseAuthorizedKey(b); err != nil {
			ps.errorf("cluster.sshPublicKeyFile", "%s holds no SSH public key (%v); want one line like \"ssh-ed25519 AAAA... user@host\"", c.SSHPublicKeyFile, err)
		} else {
			c.SSHPublicKey = strings.TrimSpace(string(b))
		}
	}
	if s, ok := readSecret(ps, "cluster.pullSecret", c.PullSecretFile, c.PullSecretEnv); ok {
		var doc struct {
			Auths map[string]json.RawMessage `json:"auths"`
		}
		path := secretPath("cluster.pullSecret", c.PullSecretFile)
		if json.Unmarshal(s, &doc) != nil || doc.Auths == nil {
			ps.errorf(path, "the pull secret is not JSON with an \"auths\" object; download it again from console.redhat.com")
		} else {
			for _, registry := range slices.Sorted(maps.Keys(doc.Auths)) {
				var entry struct {
					Auth string `json:"auth"`
				}
				_ = json.Unmarshal(doc.Auths[registry], &entry)
				if why := BadRegistryAuth(entry.Auth); why != "" {
					ps.errorf(path, "the auth of registry %s %s; the installer refuses such a pull secret (download it again, or for a registry you added give base64 of user:password)", registry, why)
				}
			}
			// Sent to the service as a JSON string without whitespace, as the runbook does.
			var compact bytes.Buffer
			_ = json.Compact(&compact, s)
			c.PullSecret = NewSecret(compact.Bytes())
		}
	}
	ai := &l.AssistedInstaller
	if ai.OfflineTokenFile != "" || ai.OfflineTokenEnv != "" {
		if s, ok := readSecret(ps, "assistedInstaller.offlineToken", ai.OfflineTokenFile, ai.OfflineTokenEnv); ok {
			ai.OfflineToken = NewSecret(s)
		}
	}
	loadProxy(ps, l, abs)
	loadDiscoveryPassword(ps, c, abs)
	if c.ManifestsDir != "" {
		c.Manifests = findManifests(ps, c.ManifestsDir)
	}
	for i := range c.IgnitionFiles {
		path := fmt.Sprintf("cluster.ignitionFiles[%d]", i)
		abs(&c.IgnitionFiles[i])
		b, err := os.ReadFile(c.IgnitionFiles[i])
		if err != nil {
			ps.errorf(path, "%v", err)
			continue
		}
		var doc struct {
			Ignition struct {
				Version string `json:"version"`
			} `json:"ignition"`
		}
		if err := json.Unmarshal(b, &doc); err != nil || doc.Ignition.Version == "" {
			ps.errorf(path, "%s is not an Ignition config (JSON with ignition.version, spec 3.0 to 3.2)", c.IgnitionFiles[i])
			continue
		}
		c.Ignition = append(c.Ignition, b)
	}
	for i := range l.Nodes {
		b := &l.Nodes[i].BMC
		p := fmt.Sprintf("nodes[%d].bmc", i)
		if b.Driver != DriverRedfish && b.Driver != DriverIPMI {
			continue
		}
		if b.UsernameFile != "" {
			abs(&b.UsernameFile)
			if s, ok := readSecret(ps, p+".username", b.UsernameFile, ""); ok {
				b.Username = string(s)
			}
		}
		abs(&b.PasswordFile)
		if b.PasswordFile != "" || b.PasswordEnv != "" {
			if s, ok := readSecret(ps, p+".password", b.PasswordFile, b.PasswordEnv); ok {
				b.Password = NewSecret(s)
			}
		}
	}
}

// BadRegistryAuth says what is wrong with a pull secret entry's auth ("" when nothing is):
// the installer wants base64 of user:password.
func BadRegistryAuth(auth string) string {
	if auth == "" {
		return "is empty"
	}
	raw, err := base64.StdEncoding.DecodeString(auth)
	if err != nil {
		return "is not base64"
	}
	user, pass, found := strings.Cut(string(raw), ":")
	switch {
	case !found:
		return "does not decode to user:password (no colon)"
	case user == "":
		return "decodes to an empty user name"
	case pass == "":
		return "decodes to an empty password"
	}
	return ""
}

// secretPath names the key a secret came from: the ...File key or the ${ENV} key.
func secretPath(key, file string) string {
	if file != "" {
		return key + "File"
	}
	return key
}

// readSecret reads a secret from a file or an environment variable, trimmed of surrounding
// white space. Errors and warnings never include the content.
func readSecret(ps *problems, key, file string, env EnvRef) ([]byte, bool) {
	path := secretPath(key, file)
	if file == "" {
		if env == "" {
			return nil, false
		}
		v := strings.TrimSpace(os.Getenv(string(env)))
		if v == "" {
			ps.errorf(path, "environment variable %s is not set or empty", env)
			return nil, false
		}
		return []byte(v), true
	}
	info, err := os.Stat(file)
	if err != nil {
		ps.errorf(path, "%v", err)
		return nil, false
	}
	if !info.Mode().IsRegular() {
		ps.errorf(path, "%s is not a regular file", file)
		return nil, false
	}
	b, err := os.ReadFile(file)
	if err != nil {
		ps.errorf(path, "%v", err)
		return nil, false
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		ps.errorf(path, "%s is empty", file)
		return nil, false
	}
	if w := secretFileWarning(file, info); w != "" {
		ps.warnf(path, "%s", w)
	}
	return b, true
}

// findManifests lists the YAML files under dir, recursively, relative to dir.
func findManifests(ps *problems, dir string) []string {
	info, err := os.Stat(dir)
	if err != nil {
		ps.errorf("cluster.manifestsDir", "%v", err)
		return nil
	}
	if !info.IsDir() {
		ps.errorf("cluster.manifestsDir", "%s is not a folder", dir)
		return nil
	}
	var found []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ext := strings.ToLower(filepath.Ext(p)); !d.IsDir() && (ext == ".yaml" || ext == ".yml") {
			rel, _ := filepath.Rel(dir, p)
			found = append(found, rel)
		}
		return nil
	})
	if err != nil {
		ps.errorf("cluster.manifestsDir", "reading %s: %v", dir, err)
		return nil
	}
	if len(found) == 0 {
		ps.errorf("cluster.manifestsDir", "%s holds no YAML files (*.yaml, *.yml); put the CN2 manifests there", dir)
	}
	sort.Strings(found)
	return found
}
