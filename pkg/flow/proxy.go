package flow

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
)

// The lab's proxy reaches the installer twice, as the service defines it: on the cluster
// (http_proxy, https_proxy, no_proxy: the installed cluster's proxy) and on the infra env
// (proxy and additional_trust_bundle: the discovery image's, and the CAs the hosts and the
// cluster they form trust). The URLs carry the password: they go into request bodies only,
// never into events or logs; events name the proxy by its redacted URL.

// clusterProxy is the cluster's proxy fields for the lab; nil pointers without a proxy.
func clusterProxy(lab *config.Lab) (httpProxy, httpsProxy, noProxy *string) {
	p := lab.Proxy
	if !p.Enabled() {
		return nil, nil, nil
	}
	return ptr(p.HTTPProxyURL()), ptr(p.HTTPSProxyURL()), ptr(lab.NoProxyString())
}

// infraEnvProxy is the infra env's proxy for the lab; nil without a proxy.
func infraEnvProxy(lab *config.Lab) *ai.Proxy {
	h, hs, np := clusterProxy(lab)
	if h == nil {
		return nil
	}
	return &ai.Proxy{HTTPProxy: h, HTTPSProxy: hs, NoProxy: np}
}

// withProxy adds the lab's proxy to a cluster registration.
func withProxy(lab *config.Lab, p ai.ClusterCreateParams) ai.ClusterCreateParams {
	p.HTTPProxy, p.HTTPSProxy, p.NoProxy = clusterProxy(lab)
	return p
}

// withInfraEnvProxy adds the lab's proxy and trust bundle to an infra env registration.
func withInfraEnvProxy(lab *config.Lab, p ai.InfraEnvCreateParams) ai.InfraEnvCreateParams {
	p.Proxy = infraEnvProxy(lab)
	p.AdditionalTrustBundle = lab.Proxy.TrustBundle
	return p
}

// proxyNote says which proxy an object was given, for an event: no password.
func proxyNote(lab *config.Lab) string {
	p := lab.Proxy
	if !p.Enabled() {
		return ""
	}
	s := fmt.Sprintf(", proxy http %s https %s, %d no-proxy entries", orNone(p.HTTPProxy), orNone(p.HTTPSProxy), len(lab.NoProxy()))
	if n := len(p.TrustBundleSubjects); n > 0 {
		s += fmt.Sprintf(", trust bundle of %d CA(s)", n)
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return config.RedactProxyURL(s)
}

// syncClusterProxy sets the cluster's proxy to the lab's when a cluster found at the
// installer (a resumed flow, a changed lab) has another one.
func (f *Flow) syncClusterProxy(ctx context.Context, id string) error {
	lab := f.d.Lab
	if !lab.Proxy.Enabled() {
		return nil
	}
	c, err := f.d.AI.GetCluster(ctx, id, true)
	if err != nil {
		return err
	}
	h, hs, np := clusterProxy(lab)
	if c.HTTPProxy == *h && c.HTTPSProxy == *hs && c.NoProxy == *np {
		return nil
	}
	if _, err := f.d.AI.UpdateCluster(ctx, id, ai.ClusterUpdateParams{HTTPProxy: h, HTTPSProxy: hs, NoProxy: np}); err != nil {
		return err
	}
	f.event(slog.LevelInfo, "", "cluster "+id+": proxy set to the lab's"+proxyNote(lab))
	return nil
}

// syncInfraEnvProxy sets the infra env's proxy and trust bundle to the lab's when they
// differ; it runs before the boot artifacts are fetched, so the image has them.
func (f *Flow) syncInfraEnvProxy(ctx context.Context, ie *ai.InfraEnv) error {
	lab := f.d.Lab
	want := infraEnvProxy(lab)
	if want == nil && proxyEqual(ie.Proxy, &ai.Proxy{}) && ie.AdditionalTrustBundle == "" {
		return nil
	}
	if want != nil && proxyEqual(ie.Proxy, want) && ie.AdditionalTrustBundle == lab.Proxy.TrustBundle {
		return nil
	}
	if want == nil {
		want = &ai.Proxy{HTTPProxy: ptr(""), HTTPSProxy: ptr(""), NoProxy: ptr("")}
	}
	if _, err := f.d.AI.UpdateInfraEnv(ctx, ie.ID, ai.InfraEnvUpdateParams{Proxy: want, AdditionalTrustBundle: ptr(lab.Proxy.TrustBundle)}); err != nil {
		return err
	}
	f.event(slog.LevelInfo, "", "infra env "+ie.ID+": proxy and trust bundle set to the lab's"+proxyNote(lab))
	return nil
}

// proxyEqual compares two proxies field by field; nil and "" are alike.
func proxyEqual(got, want *ai.Proxy) bool {
	if got == nil {
		got = &ai.Proxy{}
	}
	s := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	return s(got.HTTPProxy) == s(want.HTTPProxy) && s(got.HTTPSProxy) == s(want.HTTPSProxy) && s(got.NoProxy) == s(want.NoProxy)
}
