package config

import (
	"net/netip"
	"time"
)

// Defaults the runbook uses; a lab file only states what differs.
var (
	DefaultClusterNetwork = netip.MustParsePrefix("10.128.0.0/14")
	DefaultServiceNetwork = netip.MustParsePrefix("172.30.0.0/16")
	DefaultStatusListen   = Endpoint{Addr: netip.MustParseAddr("127.0.0.1"), Port: 9180}
)

const (
	DefaultHostPrefix = 23
	DefaultAIURL      = "https://api.openshift.com"
	DefaultTokenURL   = "https://sso.redhat.com/auth/realms/redhat-external/protocol/openid-connect/token"
	DefaultImageType  = "full-iso"
	DefaultDNSPort    = 53
	DefaultDNSTTL     = 300
	DefaultDHCPPort   = 67
	DefaultLeaseTime  = Duration(time.Hour)
	DefaultTFTPRoot   = "/usr/lib/ipxe"
	DefaultTFTPPort   = 69
	DefaultHTTPPort   = 8080
	DefaultNTPPort    = 123

	DefaultHTTPIdleTimeout             = Duration(2 * time.Minute)
	MaxHTTPIdleTimeout                 = Duration(2 * time.Minute)
	DefaultHTTPMaxConnectionsPerClient = 32
	DefaultIPMIPort                    = 623
	DefaultCipherSuite                 = 3 // answered by ipmi_sim and most BMCs; suite 17 is not universal
	DefaultBMCTimeout                  = Duration(10 * time.Second)

	UnknownClientsPool   = "pool"
	UnknownClientsIgnore = "ignore"
)

// Default install-flow timeouts.
const (
	DefaultHostsRegisteredTimeout = Duration(20 * time.Minute)
	DefaultClusterReadyTimeout    = Duration(10 * time.Minute)
	DefaultInstallTimeout         = Duration(60 * time.Minute)
	DefaultNodeBootTimeout        = Duration(10 * time.Minute)
	DefaultVerifyTimeout          = Duration(30 * time.Minute)
	DefaultRemedyAttempts         = 3
	// DefaultPowerParallelism boots 2,000 nodes in 8 waves; each BMC still sees one call at a time.
	DefaultPowerParallelism = 256
)

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

func applyDefaults(l *Lab) {
	c := &l.Cluster
	if !c.ClusterNetwork.IsValid() {
		c.ClusterNetwork = DefaultClusterNetwork
	}
	if !c.ServiceNetwork.IsValid() {
		c.ServiceNetwork = DefaultServiceNetwork
	}
	setDefault(&c.HostPrefix, DefaultHostPrefix)

	ai := &l.AssistedInstaller
	setDefault(&ai.URL, DefaultAIURL)
	setDefault(&ai.TokenURL, DefaultTokenURL)
	setDefault(&ai.ImageType, DefaultImageType)
	setDefault(&ai.Timeouts.HostsRegistered, DefaultHostsRegisteredTimeout)
	setDefault(&ai.Timeouts.ClusterReady, DefaultClusterReadyTimeout)
	setDefault(&ai.Timeouts.Install, DefaultInstallTimeout)
	setDefault(&ai.Timeouts.NodeBoot, DefaultNodeBootTimeout)
	setDefault(&ai.Timeouts.Verify, DefaultVerifyTimeout)
	setDefault(&ai.RemedyAttempts, DefaultRemedyAttempts)
	setDefault(&ai.PowerParallelism, DefaultPowerParallelism)

	setDefault(&l.DNS.Port, DefaultDNSPort)
	setDefault(&l.DNS.TTL, DefaultDNSTTL)
	setDefault(&l.DHCP.Port, DefaultDHCPPort)
	setDefault(&l.DHCP.LeaseTime, DefaultLeaseTime)
	setDefault(&l.DHCP.UnknownClients, UnknownClientsPool)
	if l.NTP.Serve == nil {
		serve := !l.namesOtherNTPServers()
		l.NTP.Serve = &serve
	}
	setDefault(&l.NTP.Port, DefaultNTPPort)
	setDefault(&l.Boot.Method, BootPXE)
	setDefault(&l.Boot.TFTPRoot, DefaultTFTPRoot)
	setDefault(&l.Boot.TFTPPort, DefaultTFTPPort)
	setDefault(&l.Boot.HTTPPort, DefaultHTTPPort)
	setDefault(&l.Boot.HTTPIdleTimeout, DefaultHTTPIdleTimeout)
	setDefault(&l.Boot.HTTPMaxConnectionsPerClient, DefaultHTTPMaxConnectionsPerClient)
	if !l.Status.Listen.Addr.IsValid() {
		l.Status.Listen = DefaultStatusListen
	}
	if l.Status.Listen.Port == 0 {
		l.Status.Listen.Port = DefaultStatusListen.Port
	}

	for i := range l.Nodes {
		setDefault(&l.Nodes[i].BootMethod, l.Boot.Method)
		b := &l.Nodes[i].BMC
		setDefault(&b.Timeout, DefaultBMCTimeout)
		if b.Driver == DriverIPMI {
			setDefault(&b.Port, DefaultIPMIPort)
			setDefault(&b.CipherSuite, DefaultCipherSuite)
		}
	}
}
