package verify

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// requestTimeout bounds one API request.
const requestTimeout = 30 * time.Second

// Dialer connects to host:port names resolved through one DNS server only (the appliance's):
// api.<cluster>.<baseDomain> is the appliance's record, which the machine running the
// appliance need not know through its own resolver.
func Dialer(dnsServer netip.AddrPort) *net.Dialer {
	d := &net.Dialer{Timeout: 10 * time.Second}
	d.Resolver = &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var nd net.Dialer
			return nd.DialContext(ctx, network, dnsServer.String())
		},
	}
	return d
}

// RESTConfig reads a kubeconfig file and makes its connections through Dialer(dnsServer).
func RESTConfig(kubeconfig string, dnsServer netip.AddrPort) (*rest.Config, error) {
	raw, err := os.ReadFile(kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("verify: read kubeconfig: %w", err)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("verify: kubeconfig %s: %w", kubeconfig, err)
	}
	if dnsServer.IsValid() {
		cfg.Dial = Dialer(dnsServer).DialContext
	}
	cfg.Timeout = requestTimeout
	cfg.UserAgent = "cn2-appliance-verify"
	return cfg, nil
}

// NewClients builds the clients of one cluster's API from a REST config.
func NewClients(cfg *rest.Config) (Clients, error) {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return Clients{}, fmt.Errorf("verify: dynamic client: %w", err)
	}
	return Clients{Dynamic: dyn}, nil
}

// Connect builds the clients from a kubeconfig file, reaching the API through the DNS server.
func Connect(kubeconfig string, dnsServer netip.AddrPort) (Clients, error) {
	cfg, err := RESTConfig(kubeconfig, dnsServer)
	if err != nil {
		return Clients{}, err
	}
	return NewClients(cfg)
}
