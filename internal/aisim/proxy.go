package aisim

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
)

// The service's proxy rules (assisted-service validateProxySettings, read not copied): the
// HTTP proxy is an http:// URL, the HTTPS proxy an http:// or https:// URL, no_proxy "*" (from
// OpenShift 4.8, which every version here is) or a comma-separated list without duplicates of
// IP addresses, CIDRs and DNS names, each with an optional leading dot. The additional trust
// bundle is PEM, every block an X.509 certificate, at most 65535 characters. Messages are the
// service's; like the service, they quote the URL as given (password and all).

// proxyURLRE is the shape the service's URL check accepts: scheme, optional user info, host
// and optional port, optional path.
var proxyURLRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*://([^/@\s]+@)?[^/@\s:]+(:[0-9]{1,5})?(/\S*)?$`)

func proxyURLProblem(raw string, schemes ...string) string {
	u, err := url.Parse(raw)
	if err != nil || !proxyURLRE.MatchString(raw) || u.Hostname() == "" {
		return fmt.Sprintf("Proxy URL format is not valid: '%s'", raw)
	}
	if !slices.Contains(schemes, u.Scheme) {
		return fmt.Sprintf("The URL scheme must be %s and specified in the URL: '%s'", strings.Join(schemes, " or "), raw)
	}
	return ""
}

// dnsNameRE is govalidator.IsDNSName's rule, near enough: labels of letters, digits, dashes
// and underscores.
var dnsNameRE = regexp.MustCompile(`^([a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?)(\.[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?)*\.?$`)

func noProxyProblem(noProxy string) string {
	if strings.Contains(noProxy, "*") {
		return "" // wildcard: accepted as of OpenShift 4.8
	}
	seen := map[string]bool{}
	for _, e := range strings.Split(noProxy, ",") {
		if seen[e] {
			return "duplicate no_proxy entry defined: " + e
		}
		seen[e] = true
		s := strings.TrimPrefix(e, ".")
		_, _, cidrErr := net.ParseCIDR(s)
		if net.ParseIP(s) == nil && cidrErr != nil && (len(s) > 255 || !dnsNameRE.MatchString(s)) {
			return "NO Proxy is a comma-separated list of destination domain names, domains, IP addresses or other network CIDRs. " +
				"A domain can be prefaced with '.' to include all subdomains of that domain. Use '*' to bypass proxy for all destinations with OpenShift 4.8 or later.: " +
				e + " is not a valid no_proxy entry"
		}
	}
	return ""
}

// proxyProblem checks a cluster's or an infra env's proxy settings ("" when fine).
func proxyProblem(httpProxy, httpsProxy, noProxy *string) string {
	if httpProxy != nil && *httpProxy != "" {
		if p := proxyURLProblem(*httpProxy, "http"); p != "" {
			return "Failed to validate HTTP Proxy: " + p
		}
	}
	if httpsProxy != nil && *httpsProxy != "" {
		if p := proxyURLProblem(*httpsProxy, "http", "https"); p != "" {
			return "Failed to validate HTTPS Proxy: " + p
		}
	}
	if noProxy != nil && *noProxy != "" {
		return noProxyProblem(*noProxy)
	}
	return ""
}

func infraEnvProxyProblem(p *ai.Proxy) string {
	if p == nil {
		return ""
	}
	return proxyProblem(p.HTTPProxy, p.HTTPSProxy, p.NoProxy)
}

// trustBundleProblem checks an additional trust bundle as the service does ("" when fine).
func trustBundleProblem(bundle string) string {
	if bundle == "" {
		return ""
	}
	if len(bundle) > 65535 {
		return "additional_trust_bundle in body should be at most 65535 chars long"
	}
	rest := []byte(bundle)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return "invalid block"
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return "parse failed: " + err.Error()
		}
		if len(rest) == 0 {
			return ""
		}
	}
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// setInfraEnvProxy stores an infra env's proxy, as the service returns it.
func setInfraEnvProxy(ie *infraEnv, p *ai.Proxy) {
	if p == nil {
		return
	}
	ie.ie.Proxy = &ai.Proxy{HTTPProxy: strp(deref(p.HTTPProxy)), HTTPSProxy: strp(deref(p.HTTPSProxy)), NoProxy: strp(deref(p.NoProxy))}
}

// Clusters returns the clusters the simulator holds, as the service would show them.
func (s *Sim) Clusters() []ai.Cluster {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ai.Cluster
	for _, cl := range s.sortedClusters() {
		out = append(out, s.clusterView(cl, false))
	}
	return out
}

// InfraEnvs returns the infra envs the simulator holds (stored fields).
func (s *Sim) InfraEnvs() []ai.InfraEnv {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ai.InfraEnv
	for _, ie := range s.infraEnvs {
		out = append(out, ie.ie)
	}
	return out
}
