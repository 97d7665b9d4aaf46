package ai_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/aisim"
	"github.com/cn2-appliance/cn2-appliance/internal/aisim/spec"
	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
)

const (
	testPullSecret = `{"auths":{"cloud.openshift.com":{"auth":"dXNlcjpzZWNyZXQtcHVsbC1zZWNyZXQ=","email":"x@example.com"}}}`
	offlineToken   = "offline-token-0123456789abcdef"
)

// harness is a simulator on loopback, a fake clock, and a client whose every request and
// response passes through the spec-validating transport.
type harness struct {
	t     *testing.T
	clock *aisim.FakeClock
	sim   *aisim.Sim
	srv   *httptest.Server
	c     *ai.Client
	ctx   context.Context
}

func newHarness(t *testing.T, opts aisim.Options, cfg ai.Config) *harness {
	t.Helper()
	clock := aisim.NewFakeClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	opts.Clock = clock
	sim, err := aisim.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(func() {
		sim.Close()
		srv.Close()
		for _, v := range sim.Violations() {
			t.Errorf("simulator answer violates the spec: %v", v)
		}
	})
	sp, err := spec.Load()
	if err != nil {
		t.Fatal(err)
	}
	cfg.URL = srv.URL
	if cfg.OfflineToken != "" && cfg.TokenURL == "" {
		cfg.TokenURL = srv.URL + aisim.TokenPath
	}
	cfg.HTTPClient = &http.Client{Transport: &spec.Transport{Spec: sp, Report: func(err error) {
		t.Errorf("contract: %v", err)
	}}}
	cfg.Now = clock.Now
	if cfg.Sleep == nil {
		cfg.Sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	}
	c, err := ai.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, clock: clock, sim: sim, srv: srv, c: c, ctx: context.Background()}
}

func ptr[T any](v T) *T { return &v }

func (h *harness) registerCluster(name string, vips bool) *ai.Cluster {
	h.t.Helper()
	p := ai.ClusterCreateParams{
		Name: name, OpenshiftVersion: "4.14", BaseDNSDomain: "contrail.lan",
		ClusterNetworks: []ai.ClusterNetwork{{CIDR: "10.128.0.0/14", HostPrefix: 23}},
		ServiceNetworks: []ai.Network{{CIDR: "172.31.0.0/16"}},
		MachineNetworks: []ai.Network{{CIDR: "172.16.0.0/24"}},
		Platform:        &ai.Platform{Type: "baremetal"}, UserManagedNetworking: ptr(false),
		VIPDHCPAllocation: ptr(false), ControlPlaneCount: ptr(3), SSHPublicKey: "ssh-ed25519 AAAA test",
		PullSecret: testPullSecret,
	}
	if vips {
		p.APIVIPs = []ai.VIP{{IP: "172.16.0.100"}}
		p.IngressVIPs = []ai.VIP{{IP: "172.16.0.101"}}
	}
	cl, err := h.c.RegisterCluster(h.ctx, p)
	if err != nil {
		h.t.Fatalf("register cluster: %v", err)
	}
	return cl
}

func (h *harness) registerInfraEnv(clusterID string) *ai.InfraEnv {
	h.t.Helper()
	ie, err := h.c.RegisterInfraEnv(h.ctx, ai.InfraEnvCreateParams{
		Name: "ie", ClusterID: clusterID, OpenshiftVersion: "4.14", CPUArchitecture: "x86_64",
		ImageType: "full-iso", PullSecret: testPullSecret,
	})
	if err != nil {
		h.t.Fatalf("register infra-env: %v", err)
	}
	return ie
}
