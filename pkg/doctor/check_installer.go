package doctor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
	"github.com/cn2-appliance/cn2-appliance/pkg/outbound"
)

// installerCheck asks the installer, from the appliance and with the lab's token, which
// OpenShift versions it offers (GET /api/assisted-install/v2/openshift-versions): that proves
// the route, TLS, the token and the version in one request.
var installerCheck = Check{
	Name:    "installer",
	Needs:   "HTTPS to assistedInstaller.url (and its token endpoint)",
	Timeout: 20 * time.Second,
	Run:     checkInstaller,
}

func checkInstaller(ctx context.Context, env *Env) []Result {
	lab := env.Lab
	ia := lab.AssistedInstaller
	target := ia.URL
	hc := env.HTTPClient
	if hc == nil { // the appliance's own way out: the lab's proxy and trust bundle
		var err error
		if hc, err = outbound.ForLab(lab).Client(); err != nil {
			return []Result{failure(target, "fix proxy.trustBundleFile", "%v", err)}
		}
	}
	var redact []string
	if pw := lab.Proxy.Password; pw.IsSet() {
		redact = append(redact, string(pw.Reveal()))
	}
	c, err := ai.New(ai.Config{
		Redact:         redact,
		URL:            ia.URL,
		OfflineToken:   string(ia.OfflineToken.Reveal()),
		TokenURL:       ia.TokenURL,
		HTTPClient:     hc,
		RequestTimeout: 8 * time.Second,
		MaxAttempts:    2,
		BackoffBase:    200 * time.Millisecond,
		BackoffMax:     time.Second,
	})
	if err != nil {
		return []Result{failure(target, "set assistedInstaller.url to https://host[:port]", "%v", err)}
	}
	versions, err := c.OpenshiftVersions(ctx, "", false)
	if err != nil {
		return []Result{installerFailure(target, ia.OfflineTokenFile, err)}
	}
	want := lab.Cluster.OpenshiftVersion
	var offered []string
	found := false
	for k, v := range versions {
		offered = append(offered, k)
		if want == k || want == v.DisplayName || strings.HasPrefix(want, k+".") {
			found = true
		}
	}
	slices.Sort(offered)
	if !found {
		return []Result{failure(target, "set cluster.openshiftVersion to one of: "+strings.Join(offered, ", "),
			"the installer does not offer OpenShift %s", want)}
	}
	var out []Result
	if u, err := url.Parse(ia.URL); err == nil && u.Scheme != "https" && !env.Loopback {
		out = append(out, warning(target, "use the installer's https:// URL", "the installer is reached without TLS: the token and pull secret cross the network in clear"))
	}
	return append(out, ok(target, "reachable, token accepted, offers OpenShift %s", want))
}

// installerFailure says what went wrong and what to do, by the kind of error.
func installerFailure(target, tokenFile string, err error) Result {
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	switch {
	case errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &invalid), errors.As(err, &verify):
		return failure(target, "install the CA that signed the installer's certificate in the jump host's trust store (/usr/local/share/ca-certificates, update-ca-certificates), or fix assistedInstaller.url's host name",
			"TLS: the installer's certificate is not trusted: %v", err)
	case errors.Is(err, ai.ErrAuth):
		fix := "get a new offline token at https://console.redhat.com/openshift/token"
		if tokenFile != "" {
			fix += " and write it to " + tokenFile
		}
		return failure(target, fix, "the token endpoint refused the offline token: %v", err)
	case errors.Is(err, ai.ErrUnauthorized):
		return failure(target, "check that the offline token belongs to an account with access to the Assisted Installer (or that a self-hosted service needs no token)", "the installer refused the request: %v", err)
	}
	return failure(target, "check the jump host's route, proxy and firewall to the installer (and assistedInstaller.url)", "cannot reach the installer: %v", err)
}
