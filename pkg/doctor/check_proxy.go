package doctor

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/outbound"
)

// proxyCheck asks the lab's proxy, from the appliance, what the nodes and the appliance will
// ask it: it answers, a CONNECT to the installer's host and to each registry host (those
// every pull secret has and those the CN2 manifests pull from) succeeds with the lab's
// credentials, and the installer's certificate, seen through the tunnel, verifies with the
// system roots plus the lab's trust bundle. Destinations on the no-proxy list are reported as
// direct. Messages name proxies by host, never with the password.
var proxyCheck = Check{
	Name:    "proxy",
	Needs:   "TCP to the lab's proxy (proxy.httpsProxy / proxy.httpProxy)",
	Timeout: 20 * time.Second,
	Run:     checkProxy,
}

func checkProxy(ctx context.Context, env *Env) []Result {
	lab := env.Lab
	if !lab.Proxy.Enabled() {
		return []Result{ok("-", "the lab names no proxy: the appliance's calls go direct, or through HTTPS_PROXY/HTTP_PROXY of its environment; the nodes go direct")}
	}
	oc := outbound.ForLab(lab)
	roots, err := oc.RootCAs()
	if err != nil {
		return []Result{failure(lab.Proxy.TrustBundleFile, "give proxy.trustBundleFile a PEM bundle of the proxy's CAs", "%v", err)}
	}
	var out []Result
	proxyOf := oc.ProxyFunc()
	answered := map[string]bool{}
	type target struct {
		host, port string
		installer  bool
	}
	var targets []target
	if u, err := url.Parse(lab.AssistedInstaller.URL); err == nil {
		port := u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
		}
		targets = append(targets, target{u.Hostname(), port, true})
	}
	regs := slices.Clone(requiredRegistries)
	if more, err := manifestRegistries(lab); err == nil {
		for _, r := range more {
			if !slices.Contains(regs, r) {
				regs = append(regs, r)
			}
		}
	}
	for _, r := range regs {
		if env.Loopback {
			out = append(out, skipped(r, "the rehearsal reaches no registry; the nodes would CONNECT to it through the proxy"))
			continue
		}
		host, port := r, "443"
		if h, p, err := net.SplitHostPort(r); err == nil {
			host, port = h, p
		}
		targets = append(targets, target{host, port, false})
	}
	for _, t := range targets {
		addr := net.JoinHostPort(t.host, t.port)
		p, err := proxyOf(&url.URL{Scheme: "https", Host: addr})
		if err != nil {
			out = append(out, failure(addr, "fix proxy.httpsProxy", "cannot choose a proxy: %v", err))
			continue
		}
		if p == nil {
			out = append(out, ok(addr, "direct: on the no-proxy list (or loopback)"))
			continue
		}
		if env.Loopback && !onLoopback(p.Hostname()) {
			out = append(out, skipped(addr, "the rehearsal contacts no proxy off loopback ("+p.Host+")"))
			continue
		}
		if !answered[p.Host] {
			answered[p.Host] = true
			conn, err := dialProxy(ctx, p, roots)
			if err != nil {
				out = append(out, failure("proxy "+p.Host, "check proxy.httpsProxy's host and port, and the route from the jump host to it", "the proxy does not answer: %v", err))
				continue
			}
			conn.Close()
			out = append(out, ok("proxy "+p.Host, "answers"))
		}
		out = append(out, connectThrough(ctx, p, addr, t.host, t.installer, roots, lab.Proxy.TrustBundleFile))
	}
	// A named proxy no destination went through (all direct, or only plain HTTP) must answer too.
	for _, raw := range []string{oc.HTTPSProxy, oc.HTTPProxy} {
		p, err := url.Parse(raw)
		if raw == "" || err != nil || answered[p.Host] {
			continue
		}
		answered[p.Host] = true
		if env.Loopback && !onLoopback(p.Hostname()) {
			out = append(out, skipped("proxy "+p.Host, "the rehearsal contacts no proxy off loopback"))
			continue
		}
		conn, err := dialProxy(ctx, p, roots)
		if err != nil {
			out = append(out, failure("proxy "+p.Host, "check the proxy URL's host and port, and the route from the jump host to it", "the proxy does not answer: %v", err))
			continue
		}
		conn.Close()
		out = append(out, ok("proxy "+p.Host, "answers"))
	}
	return out
}

// dialProxy connects to the proxy (TLS for an https:// proxy, verified with roots).
func dialProxy(ctx context.Context, p *url.URL, roots *x509.CertPool) (net.Conn, error) {
	host := p.Host
	if p.Port() == "" {
		host = net.JoinHostPort(p.Hostname(), map[string]string{"http": "80", "https": "443"}[p.Scheme])
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil || p.Scheme != "https" {
		return conn, err
	}
	tc := tls.Client(conn, &tls.Config{ServerName: p.Hostname(), RootCAs: roots, MinVersion: tls.VersionTLS12})
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("TLS to the proxy: %w", err)
	}
	return tc, nil
}

// connectThrough asks the proxy for a tunnel to addr and, for the installer, checks its
// certificate through the tunnel.
func connectThrough(ctx context.Context, p *url.URL, addr, host string, installer bool, roots *x509.CertPool, bundleFile string) Result {
	conn, err := dialProxy(ctx, p, roots)
	if err != nil {
		return failure(addr, "check the route from the jump host to the proxy", "cannot reach the proxy %s: %v", p.Host, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	req := "CONNECT " + addr + " HTTP/1.1\r\nHost: " + addr + "\r\n"
	if p.User != nil {
		pw, _ := p.User.Password()
		req += "Proxy-Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(p.User.Username()+":"+pw)) + "\r\n"
	}
	if _, err := conn.Write([]byte(req + "\r\n")); err != nil {
		return failure(addr, "check the proxy", "CONNECT through %s: %v", p.Host, err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		return failure(addr, "check that proxy.httpsProxy is an HTTP proxy", "CONNECT through %s: no HTTP answer: %v", p.Host, err)
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusProxyAuthRequired:
		return failure(addr, "give the proxy user in the proxy URL and its password in proxy.passwordFile (or proxy.password: ${ENV})",
			"the proxy %s wants credentials (407): the lab's are missing or refused", p.Host)
	case resp.StatusCode/100 != 2:
		return failure(addr, "ask the proxy's owners to allow CONNECT to "+addr, "the proxy %s refused CONNECT %s: %s", p.Host, addr, resp.Status)
	case !installer:
		return ok(addr, "CONNECT through %s succeeds", p.Host)
	}
	tc := tls.Client(&bufferedConn{Conn: conn, r: br}, &tls.Config{ServerName: host, RootCAs: roots, MinVersion: tls.VersionTLS12})
	if err := tc.HandshakeContext(ctx); err != nil {
		fix := "add the CA that signed the installer's certificate (the proxy's, if it re-signs TLS) to proxy.trustBundleFile"
		if bundleFile != "" {
			fix = "add the CA that signed the installer's certificate (the proxy's, if it re-signs TLS) to " + bundleFile
		}
		return failure(addr, fix, "CONNECT through %s succeeds, but TLS with the installer fails: %v", p.Host, err)
	}
	issuer := ""
	if cs := tc.ConnectionState(); len(cs.PeerCertificates) > 0 {
		issuer = cs.PeerCertificates[0].Issuer.CommonName
	}
	return ok(addr, "CONNECT through %s succeeds; the installer's certificate (issuer %q) verifies with the trust bundle", p.Host, issuer)
}

// bufferedConn reads what the CONNECT answer's reader already buffered first.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(b []byte) (int, error) { return c.r.Read(b) }

func onLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}
