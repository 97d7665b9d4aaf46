package ai

import "time"

// The types below mirror the service's JSON objects (definitions in swagger.yaml) for the
// fields the flow uses; unknown fields are ignored on read. Optional request fields are
// pointers or omitempty so a PATCH sends only what the caller set.

// Cluster statuses (the spec's cluster.status enum, the ones the flow looks at).
const (
	ClusterInsufficient             = "insufficient"
	ClusterReady                    = "ready"
	ClusterError                    = "error"
	ClusterPreparingForInstallation = "preparing-for-installation"
	ClusterPendingForInput          = "pending-for-input"
	ClusterInstalling               = "installing"
	ClusterFinalizing               = "finalizing"
	ClusterInstalled                = "installed"
	ClusterCancelled                = "cancelled"
	ClusterInstallingPendingAction  = "installing-pending-user-action"
)

// Host roles.
const (
	RoleAutoAssign = "auto-assign"
	RoleMaster     = "master"
	RoleWorker     = "worker"
	RoleBootstrap  = "bootstrap"
)

// Host installation stages (progress.current_stage), in the order a host normally passes them.
const (
	StageStartingInstallation = "Starting installation"
	StageWaitingControlPlane  = "Waiting for control plane"
	StageInstalling           = "Installing"
	StageWritingImage         = "Writing image to disk"
	StageRebooting            = "Rebooting"
	StageWaitingIgnition      = "Waiting for ignition"
	StageConfiguring          = "Configuring"
	StageJoined               = "Joined"
	StageDone                 = "Done"
	StageFailed               = "Failed"
)

// VIP is one entry of api_vips or ingress_vips.
type VIP struct {
	IP           string `json:"ip"`
	ClusterID    string `json:"cluster_id,omitempty"`
	Verification string `json:"verification,omitempty"`
}

// ClusterNetwork is one pod network.
type ClusterNetwork struct {
	CIDR       string `json:"cidr"`
	HostPrefix int    `json:"host_prefix,omitempty"`
}

// Network is a service or machine network.
type Network struct {
	CIDR string `json:"cidr"`
}

// Platform is the cluster platform; Type is baremetal for CN2 with cluster-managed networking.
type Platform struct {
	Type string `json:"type"`
}

// ClusterCreateParams is the body of register cluster (cluster-create-params).
type ClusterCreateParams struct {
	Name                  string           `json:"name"`
	OpenshiftVersion      string           `json:"openshift_version"`
	OCPReleaseImage       string           `json:"ocp_release_image,omitempty"`
	BaseDNSDomain         string           `json:"base_dns_domain,omitempty"`
	ClusterNetworks       []ClusterNetwork `json:"cluster_networks,omitempty"`
	ServiceNetworks       []Network        `json:"service_networks,omitempty"`
	MachineNetworks       []Network        `json:"machine_networks,omitempty"`
	APIVIPs               []VIP            `json:"api_vips,omitempty"`
	IngressVIPs           []VIP            `json:"ingress_vips,omitempty"`
	Platform              *Platform        `json:"platform,omitempty"`
	UserManagedNetworking *bool            `json:"user_managed_networking,omitempty"`
	VIPDHCPAllocation     *bool            `json:"vip_dhcp_allocation,omitempty"`
	ControlPlaneCount     *int             `json:"control_plane_count,omitempty"`
	Hyperthreading        string           `json:"hyperthreading,omitempty"`
	CPUArchitecture       string           `json:"cpu_architecture,omitempty"`
	AdditionalNTPSource   *string          `json:"additional_ntp_source,omitempty"`
	SSHPublicKey          string           `json:"ssh_public_key,omitempty"`
	// HTTPProxy, HTTPSProxy and NoProxy are the cluster's proxy; the URLs may carry a
	// password. Never logged.
	HTTPProxy  *string `json:"http_proxy,omitempty"`
	HTTPSProxy *string `json:"https_proxy,omitempty"`
	NoProxy    *string `json:"no_proxy,omitempty"`
	// PullSecret is the pull secret's JSON text (see PullSecret). Never logged.
	PullSecret string `json:"pull_secret"`
}

// ClusterUpdateParams is the body of update cluster (v2-cluster-update-params). Nil fields
// are not sent.
type ClusterUpdateParams struct {
	Name                *string           `json:"name,omitempty"`
	BaseDNSDomain       *string           `json:"base_dns_domain,omitempty"`
	ClusterNetworks     *[]ClusterNetwork `json:"cluster_networks,omitempty"`
	ServiceNetworks     *[]Network        `json:"service_networks,omitempty"`
	MachineNetworks     *[]Network        `json:"machine_networks,omitempty"`
	APIVIPs             *[]VIP            `json:"api_vips,omitempty"`
	IngressVIPs         *[]VIP            `json:"ingress_vips,omitempty"`
	VIPDHCPAllocation   *bool             `json:"vip_dhcp_allocation,omitempty"`
	SSHPublicKey        *string           `json:"ssh_public_key,omitempty"`
	AdditionalNTPSource *string           `json:"additional_ntp_source,omitempty"`
	HTTPProxy           *string           `json:"http_proxy,omitempty"`
	HTTPSProxy          *string           `json:"https_proxy,omitempty"`
	NoProxy             *string           `json:"no_proxy,omitempty"`
	PullSecret          *string           `json:"pull_secret,omitempty"`
}

// ClusterProgress is cluster.progress.
type ClusterProgress struct {
	TotalPercentage                         int    `json:"total_percentage"`
	PreparingForInstallationStagePercentage int    `json:"preparing_for_installation_stage_percentage"`
	InstallingStagePercentage               int    `json:"installing_stage_percentage"`
	FinalizingStagePercentage               int    `json:"finalizing_stage_percentage"`
	FinalizingStage                         string `json:"finalizing_stage,omitempty"`
	FinalizingStageTimedOut                 bool   `json:"finalizing_stage_timed_out,omitempty"`
}

// Cluster is the service's cluster object.
type Cluster struct {
	ID                     string           `json:"id"`
	Kind                   string           `json:"kind"`
	Href                   string           `json:"href"`
	Name                   string           `json:"name"`
	OpenshiftVersion       string           `json:"openshift_version"`
	BaseDNSDomain          string           `json:"base_dns_domain"`
	Status                 string           `json:"status"`
	StatusInfo             string           `json:"status_info"`
	StatusUpdatedAt        *time.Time       `json:"status_updated_at,omitempty"`
	ValidationsInfo        string           `json:"validations_info,omitempty"`
	Progress               *ClusterProgress `json:"progress,omitempty"`
	Hosts                  []Host           `json:"hosts,omitempty"`
	ReadyHostCount         int              `json:"ready_host_count"`
	TotalHostCount         int              `json:"total_host_count"`
	APIVIPs                []VIP            `json:"api_vips"`
	IngressVIPs            []VIP            `json:"ingress_vips"`
	ClusterNetworks        []ClusterNetwork `json:"cluster_networks"`
	ServiceNetworks        []Network        `json:"service_networks"`
	MachineNetworks        []Network        `json:"machine_networks"`
	NetworkType            *string          `json:"network_type,omitempty"`
	InstallConfigOverrides string           `json:"install_config_overrides,omitempty"`
	UserManagedNetworking  *bool            `json:"user_managed_networking,omitempty"`
	Platform               *Platform        `json:"platform,omitempty"`
	ControlPlaneCount      int              `json:"control_plane_count,omitempty"`
	ImageInfo              *ImageInfo       `json:"image_info,omitempty"`
	PullSecretSet          bool             `json:"pull_secret_set"`
	InstallStartedAt       *time.Time       `json:"install_started_at,omitempty"`
	InstallCompletedAt     *time.Time       `json:"install_completed_at,omitempty"`
	// The cluster's proxy, as the service keeps it (the URLs may carry a password).
	HTTPProxy  string `json:"http_proxy,omitempty"`
	HTTPSProxy string `json:"https_proxy,omitempty"`
	NoProxy    string `json:"no_proxy,omitempty"`
}

// Proxy is the infra env's proxy (definition proxy); the URLs may carry a password.
type Proxy struct {
	HTTPProxy  *string `json:"http_proxy,omitempty"`
	HTTPSProxy *string `json:"https_proxy,omitempty"`
	NoProxy    *string `json:"no_proxy,omitempty"`
}

// ImageInfo is cluster.image_info (legacy; always present, mostly empty in v2).
type ImageInfo struct {
	Type string `json:"type,omitempty"`
}

// KernelArgument is one infra-env kernel_arguments entry.
type KernelArgument struct {
	Operation string `json:"operation"`
	Value     string `json:"value"`
}

// InfraEnvCreateParams is the body of register infra-env (infra-env-create-params).
type InfraEnvCreateParams struct {
	Name                   string           `json:"name"`
	ClusterID              string           `json:"cluster_id,omitempty"`
	OpenshiftVersion       string           `json:"openshift_version,omitempty"`
	CPUArchitecture        string           `json:"cpu_architecture,omitempty"`
	ImageType              string           `json:"image_type,omitempty"`
	SSHAuthorizedKey       *string          `json:"ssh_authorized_key,omitempty"`
	AdditionalNTPSources   *string          `json:"additional_ntp_sources,omitempty"`
	IgnitionConfigOverride string           `json:"ignition_config_override,omitempty"`
	KernelArguments        []KernelArgument `json:"kernel_arguments,omitempty"`
	Proxy                  *Proxy           `json:"proxy,omitempty"`
	// AdditionalTrustBundle is PEM: the hosts and the cluster they form trust its CAs.
	AdditionalTrustBundle string `json:"additional_trust_bundle,omitempty"`
	// PullSecret is the pull secret's JSON text. Never logged.
	PullSecret string `json:"pull_secret"`
}

// InfraEnvUpdateParams is the body of update infra-env (infra-env-update-params).
type InfraEnvUpdateParams struct {
	ImageType              string            `json:"image_type,omitempty"`
	SSHAuthorizedKey       *string           `json:"ssh_authorized_key,omitempty"`
	AdditionalNTPSources   *string           `json:"additional_ntp_sources,omitempty"`
	IgnitionConfigOverride string            `json:"ignition_config_override,omitempty"`
	KernelArguments        *[]KernelArgument `json:"kernel_arguments,omitempty"`
	Proxy                  *Proxy            `json:"proxy,omitempty"`
	AdditionalTrustBundle  *string           `json:"additional_trust_bundle,omitempty"`
	PullSecret             string            `json:"pull_secret,omitempty"`
}

// InfraEnv is the service's infra-env (discovery image) object.
type InfraEnv struct {
	ID                     string     `json:"id"`
	Kind                   string     `json:"kind"`
	Href                   string     `json:"href"`
	Name                   string     `json:"name"`
	Type                   string     `json:"type"`
	ClusterID              string     `json:"cluster_id,omitempty"`
	OpenshiftVersion       string     `json:"openshift_version,omitempty"`
	CPUArchitecture        string     `json:"cpu_architecture,omitempty"`
	DownloadURL            string     `json:"download_url,omitempty"`
	ExpiresAt              *time.Time `json:"expires_at,omitempty"`
	IgnitionConfigOverride string     `json:"ignition_config_override,omitempty"`
	KernelArguments        *string    `json:"kernel_arguments,omitempty"`
	// AdditionalNTPSources is a comma-separated list of NTP servers (names or addresses) the
	// discovery agent adds to the hosts' chrony configuration.
	AdditionalNTPSources  string    `json:"additional_ntp_sources,omitempty"`
	PullSecretSet         bool      `json:"pull_secret_set"`
	Proxy                 *Proxy    `json:"proxy,omitempty"`
	AdditionalTrustBundle string    `json:"additional_trust_bundle,omitempty"`
	CreatedAt             time.Time `json:"created_at"`
	UpdatedAt             time.Time `json:"updated_at"`
}

// NodeLabel is one host node_labels entry.
type NodeLabel struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// HostUpdateParams is the body of update host (host-update-params). Nil fields are not sent.
type HostUpdateParams struct {
	HostName   *string      `json:"host_name,omitempty"`
	HostRole   *string      `json:"host_role,omitempty"`
	NodeLabels *[]NodeLabel `json:"node_labels,omitempty"`
	// DisksSelectedConfig sets the installation disk (role install); see disks.go.
	DisksSelectedConfig *[]DiskConfigParams         `json:"disks_selected_config,omitempty"`
	DisksSkipFormatting *[]DiskSkipFormattingParams `json:"disks_skip_formatting,omitempty"`
}

// HostProgress is host.progress.
type HostProgress struct {
	CurrentStage           string `json:"current_stage,omitempty"`
	InstallationPercentage int    `json:"installation_percentage"`
	ProgressInfo           string `json:"progress_info,omitempty"`
	StageTimedOut          bool   `json:"stage_timed_out,omitempty"`
}

// Host is the service's host object.
type Host struct {
	ID                string        `json:"id"`
	Kind              string        `json:"kind"`
	Href              string        `json:"href"`
	ClusterID         *string       `json:"cluster_id,omitempty"`
	InfraEnvID        string        `json:"infra_env_id"`
	Status            string        `json:"status"`
	StatusInfo        string        `json:"status_info"`
	ValidationsInfo   string        `json:"validations_info,omitempty"`
	Progress          *HostProgress `json:"progress,omitempty"`
	Role              string        `json:"role,omitempty"`
	SuggestedRole     string        `json:"suggested_role,omitempty"`
	Bootstrap         bool          `json:"bootstrap"`
	RequestedHostname string        `json:"requested_hostname,omitempty"`
	Inventory         string        `json:"inventory,omitempty"`
	NodeLabels        string        `json:"node_labels,omitempty"`
	CheckedInAt       *time.Time    `json:"checked_in_at,omitempty"`
	// InstallationDiskID is the inventory disk the image goes to; DisksToBeFormatted and
	// SkipFormattingDisks are comma-separated disk ids (see disks.go).
	InstallationDiskID   string `json:"installation_disk_id,omitempty"`
	InstallationDiskPath string `json:"installation_disk_path,omitempty"`
	DisksToBeFormatted   string `json:"disks_to_be_formatted,omitempty"`
	SkipFormattingDisks  string `json:"skip_formatting_disks,omitempty"`

	// parsed caches ParsedInventory's decode of Inventory (the text it was decoded from).
	parsed     *Inventory
	parsedFrom string
}

// Manifest is one entry of the manifest list, and the answer to create manifest.
type Manifest struct {
	Folder         string `json:"folder"`
	FileName       string `json:"file_name"`
	ManifestSource string `json:"manifest_source,omitempty"`
}

// CreateManifestParams is the body of create manifest; Content is standard base64.
type CreateManifestParams struct {
	Folder   string `json:"folder,omitempty"`
	FileName string `json:"file_name"`
	Content  string `json:"content"`
}

// PresignedURL is the answer to downloads/image-url.
type PresignedURL struct {
	URL       string     `json:"url"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// Credentials is the answer to GET credentials. Password is secret.
type Credentials struct {
	Username   string `json:"username"`
	Password   string `json:"password"`
	ConsoleURL string `json:"console_url"`
}

// Event is one service event.
type Event struct {
	Name       string    `json:"name,omitempty"`
	ClusterID  *string   `json:"cluster_id,omitempty"`
	HostID     *string   `json:"host_id,omitempty"`
	InfraEnvID *string   `json:"infra_env_id,omitempty"`
	Severity   string    `json:"severity"`
	Category   string    `json:"category,omitempty"`
	Message    string    `json:"message"`
	EventTime  time.Time `json:"event_time"`
}

// OpenshiftVersion is one value of the openshift-versions map.
type OpenshiftVersion struct {
	DisplayName      string   `json:"display_name"`
	SupportLevel     string   `json:"support_level"`
	Default          bool     `json:"default,omitempty"`
	CPUArchitectures []string `json:"cpu_architectures"`
}
