package doctor

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/imageref"
	mdns "github.com/miekg/dns"
)

// forwardersCheck resolves, through each configured forwarder directly, every outside name the
// install needs: the installer's host, the token endpoint's host, quay.io,
// registry.redhat.io and every registry the CN2 manifests name. It reports each forwarder's
// failures and its slowest answer. Skipped on loopback (the rehearsal forwards nowhere).
var forwardersCheck = Check{
	Name:    "forwarders",
	Needs:   "UDP to each dns.forwarders entry",
	Timeout: 10 * time.Second,
	Run:     checkForwarders,
}

// outsideNames are the outside names the nodes and the appliance resolve, sorted.
func outsideNames(env *Env) ([]string, error) {
	lab := env.Lab
	names := []string{"quay.io", "registry.redhat.io"}
	add := func(raw string) {
		if u, err := url.Parse(raw); err == nil && u.Hostname() != "" {
			names = append(names, u.Hostname())
		}
	}
	add(lab.AssistedInstaller.URL)
	if lab.AssistedInstaller.OfflineToken.IsSet() {
		add(lab.AssistedInstaller.TokenURL)
	}
	regs, err := manifestRegistries(lab)
	for _, r := range regs {
		names = append(names, imageref.LookupHost(r))
	}
	var out []string
	for _, n := range names {
		n = strings.ToLower(n)
		if _, err := netip.ParseAddr(n); err == nil || n == "localhost" || slices.Contains(out, n) {
			continue
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return out, err
}

func checkForwarders(ctx context.Context, env *Env) []Result {
	if env.Loopback {
		return []Result{skipped("all forwarders", "loopback rehearsal: the appliance forwards nowhere")}
	}
	fwds := env.Lab.DNS.Forwarders
	if len(fwds) == 0 {
		return []Result{warning("dns.forwarders", "list the site's resolvers in dns.forwarders (or serve a mirror registry's names in the lab)",
			"no forwarders: the nodes cannot resolve quay.io, registry.redhat.io or the installer")}
	}
	names, err := outsideNames(env)
	var out []Result
	if err != nil {
		out = append(out, failure("manifests", "fix or remove the unreadable manifest", "cannot list the registries the manifests pull from: %v", err))
	}
	results := make([]Result, len(fwds))
	var wg sync.WaitGroup
	for i, f := range fwds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = askForwarder(ctx, f.WithDefaultPort(53), names)
		}()
	}
	wg.Wait()
	return append(out, results...)
}

// askForwarder resolves every name through one forwarder, all at once.
func askForwarder(ctx context.Context, fwd netip.AddrPort, names []string) Result {
	target := "forwarder " + fwd.String()
	type answer struct {
		name    string
		latency time.Duration
		problem string
	}
	answers := make([]answer, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := new(mdns.Msg)
			m.SetQuestion(mdns.Fqdn(name), mdns.TypeA)
			m.RecursionDesired = true
			c := &mdns.Client{Timeout: 3 * time.Second}
			resp, rtt, err := c.ExchangeContext(ctx, m, fwd.String())
			a := answer{name: name, latency: rtt}
			switch {
			case err != nil:
				a.problem = "no answer (" + shortNetErr(err) + ")"
			case resp.Rcode != mdns.RcodeSuccess:
				a.problem = mdns.RcodeToString[resp.Rcode]
			case !hasA(resp):
				a.problem = "no address"
			}
			answers[i] = a
		}()
	}
	wg.Wait()
	var failed []string
	var slowest answer
	for _, a := range answers {
		if a.problem != "" {
			failed = append(failed, a.name+": "+a.problem)
		} else if a.latency >= slowest.latency {
			slowest = a
		}
	}
	if len(failed) > 0 {
		return failure(target, "the nodes resolve outside names through this forwarder: fix its upstream (or its access list for the jump host), or replace it in dns.forwarders",
			"%d of %d names fail: %s", len(failed), len(names), strings.Join(failed, "; "))
	}
	return ok(target, "resolved %d names (%s); slowest %s in %s", len(names), strings.Join(names, ", "), slowest.name, slowest.latency.Round(time.Millisecond))
}

func hasA(m *mdns.Msg) bool {
	for _, rr := range m.Answer {
		if _, ok := rr.(*mdns.A); ok {
			return true
		}
	}
	return false
}

// shortNetErr keeps the end of a network error ("i/o timeout", "connection refused").
func shortNetErr(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		return s[i+2:]
	}
	return fmt.Sprint(s)
}
