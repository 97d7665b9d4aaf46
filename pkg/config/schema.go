// Package config owns the lab file: its schema, strict decoding with file:line:column errors,
// defaults, validation, secret loading, and the model derived from it (DHCP reservations, DNS
// records, the expected installer hosts, the boot plan). It is pure: it reads the lab file and
// the files the lab file names, and touches nothing else.
package config

import "net/netip"

// Lab is a validated lab file with defaults filled and secrets loaded.
type Lab struct {
	Cluster           Cluster           `yaml:"cluster" json:"cluster"`
	AssistedInstaller AssistedInstaller `yaml:"assistedInstaller" json:"assistedInstaller"`
	Networks          []Network         `yaml:"networks" json:"networks"`
	// AllowNoDefaultRoute accepts a lab where no network has a gateway: a fabric with no router.
	AllowNoDefaultRoute bool   `yaml:"allowNoDefaultRoute" json:"allowNoDefaultRoute,omitempty"`
	DNS                 DNS    `yaml:"dns" json:"dns"`
	DHCP                DHCP   `yaml:"dhcp" json:"dhcp"`
	NTP                 NTP    `yaml:"ntp" json:"ntp"`
	Boot                Boot   `yaml:"boot" json:"boot"`
	Status              Status `yaml:"status" json:"status"`
	Proxy               Proxy  `yaml:"proxy" json:"proxy,omitzero"`
	Nodes               []Node `yaml:"nodes" json:"nodes"`

	// File is the path the lab was loaded from; relative paths in it are relative to its folder.
	File string `yaml:"-" json:"file"`
	// Warnings are findings that do not stop the lab from being used.
	Warnings []Problem `yaml:"-" json:"warnings,omitempty"`
}

// Cluster is the OpenShift cluster the Assisted Installer builds.
type Cluster struct {
	Name             string       `yaml:"name" json:"name"`
	BaseDomain       string       `yaml:"baseDomain" json:"baseDomain"`
	OpenshiftVersion string       `yaml:"openshiftVersion" json:"openshiftVersion"`
	ClusterNetwork   netip.Prefix `yaml:"clusterNetwork" json:"clusterNetwork"`
	HostPrefix       int          `yaml:"hostPrefix" json:"hostPrefix"`
	ServiceNetwork   netip.Prefix `yaml:"serviceNetwork" json:"serviceNetwork"`
	MachineNetwork   netip.Prefix `yaml:"machineNetwork" json:"machineNetwork"`
	APIVIP           netip.Addr   `yaml:"apiVIP" json:"apiVIP"`
	IngressVIP       netip.Addr   `yaml:"ingressVIP" json:"ingressVIP"`
	SSHPublicKeyFile string       `yaml:"sshPublicKeyFile" json:"sshPublicKeyFile"`
	PullSecretFile   string       `yaml:"pullSecretFile" json:"pullSecretFile,omitempty"`
	PullSecretEnv    EnvRef       `yaml:"pullSecret" json:"pullSecret,omitempty"`
	ManifestsDir     string       `yaml:"manifestsDir" json:"manifestsDir"`
	// InstallConfigOverrides are merged into the install-config override the appliance sends
	// (which always sets networking.networkType: Contrail).
	InstallConfigOverrides map[string]any `yaml:"installConfigOverrides" json:"installConfigOverrides,omitempty"`
	// IgnitionFiles are Ignition configs (JSON, spec 3.0-3.2) merged into the discovery image's
	// ignition override, after the CN2 certificate patch.
	IgnitionFiles []string `yaml:"ignitionFiles" json:"ignitionFiles,omitempty"`
	// DiscoveryKernelArguments are appended to the discovery image's kernel arguments.
	DiscoveryKernelArguments []string `yaml:"discoveryKernelArguments" json:"discoveryKernelArguments,omitempty"`
	// DiscoveryPasswordFile holds a crypt(3) password hash for user core in the discovery
	// image, for console access to a node that hangs in discovery. A secret.
	DiscoveryPasswordFile string `yaml:"discoveryPasswordFile" json:"discoveryPasswordFile,omitempty"`
	DiscoveryPasswordHash Secret `yaml:"-" json:"-"`

	SSHPublicKey string `yaml:"-" json:"sshPublicKey"` // public: fine to show
	PullSecret   Secret `yaml:"-" json:"-"`
	// Manifests are the YAML files under ManifestsDir, relative to it, sorted.
	Manifests []string `yaml:"-" json:"manifests"`
	// Ignition holds the content of IgnitionFiles, in order.
	Ignition [][]byte `yaml:"-" json:"-"`
}

// AssistedInstaller says which Assisted Installer service to use and how to authenticate.
type AssistedInstaller struct {
	URL              string   `yaml:"url" json:"url"`
	OfflineTokenFile string   `yaml:"offlineTokenFile" json:"offlineTokenFile,omitempty"`
	OfflineTokenEnv  EnvRef   `yaml:"offlineToken" json:"offlineToken,omitempty"`
	TokenURL         string   `yaml:"tokenURL" json:"tokenURL"`
	ImageType        string   `yaml:"imageType" json:"imageType"`
	Timeouts         Timeouts `yaml:"timeouts" json:"timeouts"`
	// ReprovisionOnChange lets a reloaded lab file that changes the cluster, the installer or the
	// nodes tear the install down and start again by itself; off, the lab is only flagged.
	ReprovisionOnChange bool `yaml:"reprovisionOnChange" json:"reprovisionOnChange"`
	// RemedyAttempts is how many remedies (power on, boot again) the flow tries on a stalled
	// node before it marks the node "needs attention" and leaves it to the operator.
	RemedyAttempts int `yaml:"remedyAttempts" json:"remedyAttempts"`
	// PowerParallelism bounds the BMC calls (power, boot device, media) the flow sends at
	// once: a role's nodes are booted together, this many at a time.
	PowerParallelism int `yaml:"powerParallelism" json:"powerParallelism"`

	// OfflineToken is empty when no token is configured (a self-hosted service without auth).
	OfflineToken Secret `yaml:"-" json:"-"`
}

// Timeouts bound the long waits of the install flow.
type Timeouts struct {
	HostsRegistered Duration `yaml:"hostsRegistered" json:"hostsRegistered"`
	ClusterReady    Duration `yaml:"clusterReady" json:"clusterReady"`
	Install         Duration `yaml:"install" json:"install"`
	// NodeBoot is how long a node may take to show progress after it was (re)booted: from
	// power-on to registering with the installer, or through a reboot during the install.
	// Longer, and the flow remedies the node.
	NodeBoot Duration `yaml:"nodeBoot" json:"nodeBoot"`
	// Verify is how long the installed cluster has, once the installer says installed, to have
	// every lab node Ready, every ClusterOperator Available and every pod Running or Succeeded.
	Verify Duration `yaml:"verify" json:"verify"`
}

// Network is one lab fabric the appliance is attached to.
type Network struct {
	Name      string       `yaml:"name" json:"name"`
	Interface string       `yaml:"interface" json:"interface"`
	CIDR      netip.Prefix `yaml:"cidr" json:"cidr"`
	Address   netip.Addr   `yaml:"address" json:"address"` // the appliance's own address on it
	Gateway   netip.Addr   `yaml:"gateway" json:"gateway,omitzero"`
	Pool      Range        `yaml:"pool" json:"pool,omitzero"`
	MTU       int          `yaml:"mtu" json:"mtu,omitempty"`
	// NTPServers are what DHCP hands out on this network (option 42), in place of the
	// default: dhcp.ntpServers, else the appliance's own address here when it serves NTP.
	NTPServers []netip.Addr `yaml:"ntpServers" json:"ntpServers,omitempty"`
}

// DNS configures the lab's name server.
type DNS struct {
	Port       int        `yaml:"port" json:"port"`
	TTL        int        `yaml:"ttl" json:"ttl"` // seconds, for the lab's own records
	Forwarders []Endpoint `yaml:"forwarders" json:"forwarders"`
}

// DHCP configures the lab's DHCP servers (one per network).
type DHCP struct {
	Port           int      `yaml:"port" json:"port"`
	LeaseTime      Duration `yaml:"leaseTime" json:"leaseTime"`
	UnknownClients string   `yaml:"unknownClients" json:"unknownClients"` // pool | ignore
	// NTPServers are handed out on every network that lists none of its own (option 42):
	// servers every lab network can reach.
	NTPServers []netip.Addr `yaml:"ntpServers" json:"ntpServers,omitempty"`
}

// NTP configures the appliance's NTP server, which serves the host's clock on the
// appliance's address on every lab network.
type NTP struct {
	// Serve runs the NTP server. Default: true when the lab names no NTP server other than
	// the appliance's own addresses; always set once the lab is loaded.
	Serve *bool `yaml:"serve" json:"serve"`
	// LocalStratum (1-15) serves the host clock at this stratum even while the host is not
	// synchronised, as chrony's `local stratum` does: for an isolated lab with no upstream
	// time, so the nodes agree with each other. 0: off (an unsynchronised host is served at
	// stratum 16, which clients ignore).
	LocalStratum int `yaml:"localStratum" json:"localStratum,omitempty"`
	Port         int `yaml:"port" json:"port"`
}

// Serving says whether the appliance serves NTP.
func (n NTP) Serving() bool { return n.Serve != nil && *n.Serve }

// Boot configures network boot and how nodes are booted into the discovery image.
type Boot struct {
	Method   string `yaml:"method" json:"method"` // pxe | virtual-media | uefi-http
	TFTPRoot string `yaml:"tftpRoot" json:"tftpRoot"`
	TFTPPort int    `yaml:"tftpPort" json:"tftpPort"`
	HTTPPort int    `yaml:"httpPort" json:"httpPort"`
	// AllowFrom are networks outside the lab networks whose clients may use TFTP and HTTP
	// boot (the lab networks, which include every relay's giaddr network, and loopback
	// always may); any other source is refused.
	AllowFrom []netip.Prefix `yaml:"allowFrom" json:"allowFrom,omitempty"`
	// HTTPIdleTimeout closes an HTTP boot keep-alive connection idle this long (1s to 2m).
	HTTPIdleTimeout Duration `yaml:"httpIdleTimeout" json:"httpIdleTimeout"`
	// HTTPMaxConnections caps the HTTP boot connections in total; 0 (default): derived from
	// the process's descriptor limit (see the README).
	HTTPMaxConnections int `yaml:"httpMaxConnections" json:"httpMaxConnections,omitempty"`
	// HTTPMaxConnectionsPerClient caps them per client address.
	HTTPMaxConnectionsPerClient int `yaml:"httpMaxConnectionsPerClient" json:"httpMaxConnectionsPerClient"`
}

// Status configures the status page, JSON API and metrics listener.
type Status struct {
	Listen Endpoint `yaml:"listen" json:"listen"`
	// WebConfigFile is a Prometheus exporter-toolkit web config (TLS, basic auth), as any
	// exporter reads with --web.config.file; required when Listen is not loopback.
	WebConfigFile string `yaml:"webConfigFile" json:"webConfigFile,omitempty"`
}

// Node is one machine of the cluster.
type Node struct {
	Name   string            `yaml:"name" json:"name"`
	Role   string            `yaml:"role" json:"role"` // control-plane | worker
	DPDK   bool              `yaml:"dpdk" json:"dpdk"`
	Labels map[string]string `yaml:"labels" json:"labels,omitempty"`
	NICs   []NIC             `yaml:"nics" json:"nics"`
	BMC    BMC               `yaml:"bmc" json:"bmc"`
	// BootMethod overrides boot.method for this node (pxe | virtual-media | uefi-http).
	BootMethod string `yaml:"bootMethod" json:"bootMethod,omitempty"`
	// InstallDisk says which disk the image is written to (see disk.go); unset, the
	// installer chooses.
	InstallDisk *InstallDisk `yaml:"installDisk" json:"installDisk,omitempty"`
	// WipeDisks lets the installer format the node's other disks that hold partitions.
	WipeDisks bool `yaml:"wipeDisks" json:"wipeDisks,omitempty"`
}

// NIC is one of a node's interfaces on a lab network.
type NIC struct {
	Network string     `yaml:"network" json:"network"`
	MAC     MAC        `yaml:"mac" json:"mac"`
	IP      netip.Addr `yaml:"ip" json:"ip"`
}

// BMC says how to control a node's power and boot device.
type BMC struct {
	Driver string `yaml:"driver" json:"driver"` // redfish | ipmi | libvirt

	// redfish and ipmi
	Address      string `yaml:"address" json:"address,omitempty"` // redfish: https URL; ipmi: host
	Port         int    `yaml:"port" json:"port,omitempty"`       // ipmi
	Username     string `yaml:"username" json:"username,omitempty"`
	UsernameFile string `yaml:"usernameFile" json:"usernameFile,omitempty"`
	PasswordFile string `yaml:"passwordFile" json:"passwordFile,omitempty"`
	PasswordEnv  EnvRef `yaml:"password" json:"password,omitempty"`
	Insecure     bool   `yaml:"insecure" json:"insecure,omitempty"`       // redfish: skip TLS verification
	SystemID     string `yaml:"systemID" json:"systemID,omitempty"`       // redfish: which system, if several
	CipherSuite  int    `yaml:"cipherSuite" json:"cipherSuite,omitempty"` // ipmi lanplus cipher suite

	// libvirt
	URI    string `yaml:"uri" json:"uri,omitempty"`
	Domain string `yaml:"domain" json:"domain,omitempty"`

	// Timeout bounds one try of one BMC call (every driver); a call makes at most 3 tries.
	Timeout Duration `yaml:"timeout" json:"timeout"`

	Password Secret `yaml:"-" json:"-"`
}

// Roles and drivers the lab file accepts.
const (
	RoleControlPlane = "control-plane"
	RoleWorker       = "worker"

	DriverRedfish = "redfish"
	DriverIPMI    = "ipmi"
	DriverLibvirt = "libvirt"

	BootPXE          = "pxe"
	BootVirtualMedia = "virtual-media"
	// BootUEFIHTTP is UEFI HTTP boot: the BMC sets the appliance's ipxe.efi URL as the
	// node's HTTP boot URI, so DHCP needs no PXE options for it.
	BootUEFIHTTP = "uefi-http"
)
