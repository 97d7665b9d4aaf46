// Package outbound builds the one HTTP transport the appliance's own outbound calls use (the
// installer client and its token endpoint, boot artifact and ISO downloads, the doctor): the
// lab's proxy, chosen per request by golang.org/x/net/http/httpproxy, and the lab's trust
// bundle added to the system roots. A lab that names no proxy leaves the choice to the
// environment (HTTP_PROXY, HTTPS_PROXY, NO_PROXY), as any Go program does.
//
// It owns no state and imports only pkg/config. Proxy URLs carry a password: they are never
// printed by this package, and errors name the proxy only by host.
package outbound

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/http/httpproxy"

	"github.com/cn2-appliance/cn2-appliance/pkg/config"
)

// Config is the proxy and trust of outbound calls.
type Config struct {
	// HTTPProxy and HTTPSProxy are the proxy URLs, with credentials. Both empty: the
	// environment decides.
	HTTPProxy, HTTPSProxy string
	// NoProxy are the destinations reached directly (httpproxy's NO_PROXY syntax).
	NoProxy []string
	// TrustBundle is PEM text of CAs trusted besides the system's.
	TrustBundle string
}

// ForLab is the outbound configuration of a lab: its proxy with the password, its final
// no-proxy list (config.Lab.NoProxy) and its trust bundle.
func ForLab(lab *config.Lab) Config {
	p := lab.Proxy
	return Config{HTTPProxy: p.HTTPProxyURL(), HTTPSProxy: p.HTTPSProxyURL(), NoProxy: lab.NoProxy(), TrustBundle: p.TrustBundle}
}

// Named says whether the configuration names a proxy (else the environment is used).
func (c Config) Named() bool { return c.HTTPProxy != "" || c.HTTPSProxy != "" }

// proxyConfig is the httpproxy rule set: the lab's, or the environment's.
func (c Config) proxyConfig() *httpproxy.Config {
	if !c.Named() {
		return httpproxy.FromEnvironment()
	}
	return &httpproxy.Config{HTTPProxy: c.HTTPProxy, HTTPSProxy: c.HTTPSProxy, NoProxy: strings.Join(c.NoProxy, ",")}
}

// ProxyFunc returns the proxy for a request URL (nil: go direct). Loopback and localhost are
// always direct (httpproxy's rule).
func (c Config) ProxyFunc() func(*url.URL) (*url.URL, error) {
	return c.proxyConfig().ProxyFunc()
}

// RootCAs is the system pool with the trust bundle added; nil (the system pool) without a
// bundle.
func (c Config) RootCAs() (*x509.CertPool, error) {
	if strings.TrimSpace(c.TrustBundle) == "" {
		return nil, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM([]byte(c.TrustBundle)) {
		return nil, errors.New("outbound: the trust bundle holds no PEM certificate")
	}
	return pool, nil
}

// Transport is the transport of every outbound call: http.DefaultTransport's settings with
// the proxy rule and the trust bundle of c.
func (c Config) Transport() (*http.Transport, error) {
	roots, err := c.RootCAs()
	if err != nil {
		return nil, err
	}
	proxy := c.ProxyFunc()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = func(r *http.Request) (*url.URL, error) { return proxy(r.URL) }
	tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	tr.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return tr, nil
}

// Client is an http.Client on Transport, without an overall timeout (callers bound each
// request with their context).
func (c Config) Client() (*http.Client, error) {
	tr, err := c.Transport()
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: tr}, nil
}

// ProxyHost is the proxy a URL goes through, as host:port without credentials ("" when
// direct), for messages.
func (c Config) ProxyHost(u *url.URL) string {
	p, err := c.ProxyFunc()(u)
	if err != nil || p == nil {
		return ""
	}
	return p.Host
}

// Describe says how outbound calls leave, without secrets: for the log at start-up.
func (c Config) Describe() string {
	if !c.Named() {
		return "proxy from the environment (HTTP_PROXY, HTTPS_PROXY, NO_PROXY)"
	}
	var parts []string
	for _, p := range []struct{ name, raw string }{{"http", c.HTTPProxy}, {"https", c.HTTPSProxy}} {
		if p.raw != "" {
			parts = append(parts, fmt.Sprintf("%s via %s", p.name, config.RedactProxyURL(p.raw)))
		}
	}
	return strings.Join(parts, ", ") + fmt.Sprintf(", %d no-proxy entries", len(c.NoProxy))
}
