package config

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Proxy is the lab's HTTP proxy: the discovery image, the installed cluster and the
// appliance's own calls to the installer go through it, and trust the CAs of its bundle.
type Proxy struct {
	// HTTPProxy and HTTPSProxy are the proxy URLs, http://[user@]host:port (the HTTPS proxy
	// may also be https://). The password is never part of them: it is PasswordFile or
	// Password, and goes into the URLs only on their way to the installer and the transport.
	HTTPProxy  string `yaml:"httpProxy" json:"httpProxy,omitempty"`
	HTTPSProxy string `yaml:"httpsProxy" json:"httpsProxy,omitempty"`
	// NoProxy are destinations reached directly (domains, .domain for every subdomain, IP
	// addresses, CIDRs), besides the ones the appliance adds (see Lab.NoProxy).
	NoProxy         []string `yaml:"noProxy" json:"noProxy,omitempty"`
	PasswordFile    string   `yaml:"passwordFile" json:"passwordFile,omitempty"`
	PasswordEnv     EnvRef   `yaml:"password" json:"password,omitempty"`
	TrustBundleFile string   `yaml:"trustBundleFile" json:"trustBundleFile,omitempty"`

	Password Secret `yaml:"-" json:"-"`
	// TrustBundle is the PEM text of TrustBundleFile, trimmed; every block a certificate.
	TrustBundle string `yaml:"-" json:"-"`
	// TrustBundleSubjects name the bundle's certificates, for plan and the status page.
	TrustBundleSubjects []string `yaml:"-" json:"trustBundleSubjects,omitempty"`
}

// Enabled says whether the lab names a proxy.
func (p Proxy) Enabled() bool { return p.HTTPProxy != "" || p.HTTPSProxy != "" }

// HTTPProxyURL and HTTPSProxyURL are the proxy URLs with the password in them, for the
// installer and the appliance's transport only: never print them. "" when not set.
func (p Proxy) HTTPProxyURL() string  { return p.withPassword(p.HTTPProxy) }
func (p Proxy) HTTPSProxyURL() string { return p.withPassword(p.HTTPSProxy) }

func (p Proxy) withPassword(raw string) string {
	if raw == "" || !p.Password.IsSet() {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = url.UserPassword(u.User.Username(), string(p.Password.Reveal()))
	return u.String()
}

// RedactProxyURL is a proxy URL fit to print: a password in it is replaced.
func RedactProxyURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.LastIndex(raw, "@"); i >= 0 {
			return "[redacted]@" + raw[i+1:]
		}
		return raw
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), redacted)
		s := u.String()
		return strings.Replace(s, url.QueryEscape(redacted), redacted, 1)
	}
	return raw
}

// NoProxy is the final no-proxy list of the lab: the lab file's entries, then what must never
// go through the proxy: every lab network and the appliance's address on it (the machine
// network among them), the cluster and service networks, the cluster's domain, and the VIPs.
// Entries are unique, in that order. Empty when the lab names no proxy.
func (l *Lab) NoProxy() []string {
	if !l.Proxy.Enabled() {
		return nil
	}
	if slices.Contains(l.Proxy.NoProxy, "*") {
		return []string{"*"}
	}
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, e := range l.Proxy.NoProxy {
		add(e)
	}
	for _, n := range l.Networks {
		if n.CIDR.IsValid() {
			add(n.CIDR.String())
		}
	}
	if l.Cluster.MachineNetwork.IsValid() {
		add(l.Cluster.MachineNetwork.String())
	}
	for _, p := range []netip.Prefix{l.Cluster.ClusterNetwork, l.Cluster.ServiceNetwork} {
		if p.IsValid() {
			add(p.String())
		}
	}
	if l.Cluster.Name != "" && l.Cluster.BaseDomain != "" {
		add("." + l.Zone())
	}
	for _, a := range []netip.Addr{l.Cluster.APIVIP, l.Cluster.IngressVIP} {
		if a.IsValid() {
			add(a.String())
		}
	}
	for _, n := range l.Networks {
		if n.Address.IsValid() {
			add(n.Address.String())
		}
	}
	return out
}

// NoProxyString is NoProxy as the installer takes it: comma-separated.
func (l *Lab) NoProxyString() string { return strings.Join(l.NoProxy(), ",") }

// MaxTrustBundle is the longest additional_trust_bundle the installer takes (the spec's
// maxLength).
const MaxTrustBundle = 65535

// proxy checks the proxy keys: URLs as the installer takes them (the HTTP proxy http only,
// the HTTPS proxy http or https), with host and port and no password inline; no-proxy entries
// as the installer takes them.
func (v *validator) proxy() {
	p := v.lab.Proxy
	users := 0
	for _, u := range []struct {
		path, raw string
		schemes   []string
	}{{"proxy.httpProxy", p.HTTPProxy, []string{"http"}}, {"proxy.httpsProxy", p.HTTPSProxy, []string{"http", "https"}}} {
		if u.raw == "" {
			continue
		}
		if user, ok := v.proxyURL(u.path, u.raw, u.schemes); ok && user {
			users++
		}
	}
	if !p.Enabled() {
		for _, k := range []struct {
			name string
			set  bool
		}{{"noProxy", len(p.NoProxy) > 0}, {"passwordFile", p.PasswordFile != ""}, {"password", p.PasswordEnv != ""}, {"trustBundleFile", p.TrustBundleFile != ""}} {
			if k.set {
				v.ps.errorf("proxy."+k.name, "no proxy is named; give proxy.httpProxy and/or proxy.httpsProxy, or leave %s out", k.name)
			}
		}
		return
	}
	hasPassword := p.PasswordFile != "" || p.PasswordEnv != ""
	switch {
	case p.PasswordFile != "" && p.PasswordEnv != "":
		v.ps.errorf("proxy.password", "give passwordFile or password, not both")
	case hasPassword && users == 0:
		v.ps.errorf(secretPath("proxy.password", p.PasswordFile), "the proxy URLs name no user; write the user into the URL, e.g. http://user@proxy.example.com:3128")
	}
	seen := map[string]bool{}
	for i, e := range p.NoProxy {
		path := fmt.Sprintf("proxy.noProxy[%d]", i)
		switch {
		case e == "*" && len(p.NoProxy) > 1:
			v.ps.errorf(path, `"*" bypasses the proxy for every destination; give it alone, or list destinations`)
		case e == "*":
		case seen[e]:
			v.ps.errorf(path, "%q is listed twice; the installer refuses duplicate no_proxy entries", e)
		case !validNoProxyEntry(e):
			v.ps.errorf(path, "%q is not a no-proxy entry; want a domain (.example.com for its subdomains too), an IP address or a CIDR, without port", e)
		}
		seen[e] = true
	}
}

// proxyURL checks one proxy URL; it reports whether the URL names a user.
func (v *validator) proxyURL(path, raw string, schemes []string) (user, ok bool) {
	want := strings.Join(schemes, " or ")
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		v.ps.errorf(path, "%q is not a URL; want %s://[user@]host:port, e.g. http://proxy.example.com:3128", RedactProxyURL(raw), schemes[0])
		return false, false
	}
	if _, has := u.User.Password(); has {
		bare := url.URL{Scheme: u.Scheme, User: url.User(u.User.Username()), Host: u.Host}
		v.ps.errorf(path, "the URL holds a password; secrets are not written into the lab file: write %s and give proxy.passwordFile, or proxy.password: ${ENV_VAR}", bare.String())
		return false, false
	}
	switch {
	case !slices.Contains(schemes, u.Scheme):
		v.ps.errorf(path, "%q: the scheme must be %s (the installer's rule)", raw, want)
	case u.Hostname() == "":
		v.ps.errorf(path, "%q names no host; want %s://[user@]host:port", raw, schemes[0])
	case u.Port() == "":
		v.ps.errorf(path, "%q names no port; give it, e.g. %s://%s:3128", raw, u.Scheme, u.Host)
	case !validPort(u.Port()):
		v.ps.errorf(path, "%q: port %s is not 1 to 65535", raw, u.Port())
	case u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "":
		v.ps.errorf(path, "%q: a proxy URL has no path, query or fragment; want %s://[user@]host:port", raw, u.Scheme)
	case net.ParseIP(u.Hostname()) == nil && !dnsNameRE.MatchString(u.Hostname()):
		v.ps.errorf(path, "%q: %q is neither a host name nor an IP address", raw, u.Hostname())
	default:
		return u.User != nil && u.User.Username() != "", true
	}
	return false, false
}

func validPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 1 && n <= 65535
}

// dnsNameRE is a DNS name as the installer's validator accepts it (govalidator.IsDNSName):
// labels of letters, digits, dashes and underscores, not starting or ending with a dash.
var dnsNameRE = regexp.MustCompile(`^([a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?)(\.[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?)*\.?$`)

// validNoProxyEntry: an IP address, a CIDR or a DNS name, with an optional leading dot.
func validNoProxyEntry(e string) bool {
	s := strings.TrimPrefix(e, ".")
	if net.ParseIP(s) != nil {
		return true
	}
	if _, _, err := net.ParseCIDR(s); err == nil {
		return true
	}
	return len(s) <= 253 && dnsNameRE.MatchString(s) && !strings.HasPrefix(s, ".")
}

// loadProxy reads the proxy password and the trust bundle.
func loadProxy(ps *problems, l *Lab, abs func(*string)) {
	p := &l.Proxy
	abs(&p.PasswordFile)
	if p.PasswordFile != "" || p.PasswordEnv != "" {
		if s, ok := readSecret(ps, "proxy.password", p.PasswordFile, p.PasswordEnv); ok {
			p.Password = NewSecret(s)
		}
	}
	if p.TrustBundleFile == "" {
		return
	}
	abs(&p.TrustBundleFile)
	b, err := os.ReadFile(p.TrustBundleFile)
	if err != nil {
		ps.errorf("proxy.trustBundleFile", "%v", err)
		return
	}
	bundle := bytes.TrimSpace(b)
	subjects, why := parseBundle(bundle)
	switch {
	case why != "":
		ps.errorf("proxy.trustBundleFile", "%s: %s; want PEM CERTIFICATE blocks, one per CA (the installer refuses anything else)", p.TrustBundleFile, why)
	case len(bundle) > MaxTrustBundle:
		ps.errorf("proxy.trustBundleFile", "%s is %d bytes; the installer takes at most %d", p.TrustBundleFile, len(bundle), MaxTrustBundle)
	default:
		p.TrustBundle = string(bundle)
		p.TrustBundleSubjects = subjects
	}
}

// parseBundle checks a PEM bundle as the installer does: nothing but blocks, each an X.509
// certificate. It returns their subjects, or why the bundle is refused.
func parseBundle(bundle []byte) ([]string, string) {
	if len(bundle) == 0 {
		return nil, "the file is empty"
	}
	var subjects []string
	rest := bundle
	for n := 1; len(bytes.TrimSpace(rest)) > 0; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, fmt.Sprintf("block %d is not PEM", n)
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Sprintf("block %d is %q, not a CERTIFICATE", n, block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Sprintf("block %d is not an X.509 certificate (%v)", n, err)
		}
		subjects = append(subjects, c.Subject.String())
	}
	return subjects, ""
}
