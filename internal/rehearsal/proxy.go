package rehearsal

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cn2-appliance/cn2-appliance/internal/aisim"
	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
)

// ProxyReport is what the installer objects carry of the lab's proxy, fit to print: URLs
// with the password redacted, and whether the password the lab names reached them.
type ProxyReport struct {
	ClusterHTTPProxy, ClusterHTTPSProxy string
	ClusterNoProxy                      []string
	InfraEnvHTTPProxy                   string
	InfraEnvNoProxy                     []string
	// TrustBundleCerts counts the certificates of the infra env's additional trust bundle.
	TrustBundleCerts int
	// Credentials: every proxy URL of both objects is the lab's, with its user and password.
	Credentials bool
}

// proxyReport reads the lab's cluster and infra env at the simulator; nil when the lab names
// no proxy.
func proxyReport(sim *aisim.Sim, lab *config.Lab) *ProxyReport {
	if !lab.Proxy.Enabled() {
		return nil
	}
	r := &ProxyReport{}
	var clusterID string
	for _, c := range sim.Clusters() {
		if c.Name == lab.Cluster.Name {
			clusterID = c.ID
			r.ClusterHTTPProxy, r.ClusterHTTPSProxy = config.RedactProxyURL(c.HTTPProxy), config.RedactProxyURL(c.HTTPSProxy)
			r.ClusterNoProxy = split(c.NoProxy)
			r.Credentials = c.HTTPProxy == lab.Proxy.HTTPProxyURL() && c.HTTPSProxy == lab.Proxy.HTTPSProxyURL()
		}
	}
	for _, ie := range sim.InfraEnvs() {
		if ie.ClusterID != clusterID || clusterID == "" {
			continue
		}
		p := ie.Proxy
		if p == nil {
			p = &ai.Proxy{}
		}
		r.InfraEnvHTTPProxy = config.RedactProxyURL(deref(p.HTTPProxy))
		r.InfraEnvNoProxy = split(deref(p.NoProxy))
		r.TrustBundleCerts = strings.Count(ie.AdditionalTrustBundle, "-----BEGIN CERTIFICATE-----")
		r.Credentials = r.Credentials && deref(p.HTTPProxy) == lab.Proxy.HTTPProxyURL() && deref(p.HTTPSProxy) == lab.Proxy.HTTPSProxyURL()
	}
	return r
}

// problems says what the installer objects lack of the lab's proxy.
func (r *ProxyReport) problems(lab *config.Lab) []string {
	if r == nil {
		return nil
	}
	var out []string
	want := lab.NoProxy()
	if !slices.Equal(r.ClusterNoProxy, want) || !slices.Equal(r.InfraEnvNoProxy, want) {
		out = append(out, fmt.Sprintf("no_proxy at the installer: cluster %q, infra env %q; want %q", r.ClusterNoProxy, r.InfraEnvNoProxy, want))
	}
	if !r.Credentials {
		out = append(out, "the proxy URLs at the installer lack the lab's proxy user or password")
	}
	if n := len(lab.Proxy.TrustBundleSubjects); r.TrustBundleCerts != n {
		out = append(out, fmt.Sprintf("the infra env's trust bundle holds %d certificates, want %d", r.TrustBundleCerts, n))
	}
	return out
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
