package ai

import (
	"context"
	"fmt"
	"net/url"
	"strings"
)

// Disk is one entry of inventory.disks (the spec's disk).
type Disk struct {
	// ID is the disk's by-id name when it has one, else its by-path name: what
	// disks_selected_config and installation_disk_id use.
	ID                      string                  `json:"id"`
	Name                    string                  `json:"name"`
	Path                    string                  `json:"path,omitempty"`
	ByPath                  string                  `json:"by_path,omitempty"`
	ByID                    string                  `json:"by_id,omitempty"`
	DriveType               string                  `json:"drive_type,omitempty"`
	Model                   string                  `json:"model,omitempty"`
	Vendor                  string                  `json:"vendor,omitempty"`
	Serial                  string                  `json:"serial,omitempty"`
	WWN                     string                  `json:"wwn,omitempty"`
	SizeBytes               int64                   `json:"size_bytes"`
	Bootable                bool                    `json:"bootable"`
	Removable               bool                    `json:"removable"`
	PartitionTypes          string                  `json:"partitionTypes,omitempty"`
	IsInstallationMedia     bool                    `json:"is_installation_media"`
	InstallationEligibility InstallationEligibility `json:"installation_eligibility"`
	Holders                 string                  `json:"holders,omitempty"`
}

// InstallationEligibility is disk.installation_eligibility.
type InstallationEligibility struct {
	Eligible           bool     `json:"eligible"`
	NotEligibleReasons []string `json:"not_eligible_reasons"`
}

// CPU is inventory.cpu.
type CPU struct {
	Count        int    `json:"count"`
	Architecture string `json:"architecture,omitempty"`
	ModelName    string `json:"model_name,omitempty"`
}

// Memory is inventory.memory.
type Memory struct {
	PhysicalBytes int64 `json:"physical_bytes"`
	UsableBytes   int64 `json:"usable_bytes"`
}

// Disk roles of disk-config-params.
const (
	DiskRoleInstall = "install"
	DiskRoleNone    = "none"
)

// DiskConfigParams is one entry of host-update-params.disks_selected_config.
type DiskConfigParams struct {
	ID   string `json:"id"`
	Role string `json:"role,omitempty"`
}

// DiskSkipFormattingParams is one entry of host-update-params.disks_skip_formatting.
type DiskSkipFormattingParams struct {
	DiskID         string `json:"disk_id"`
	SkipFormatting bool   `json:"skip_formatting"`
}

// String is the disk as an operator reads it: name, size, the names the lab file can use.
func (d Disk) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", d.Name, HumanBytes(d.SizeBytes))
	if d.DriveType != "" {
		b.WriteString(" " + d.DriveType)
	}
	if d.ByPath != "" {
		b.WriteString(" byPath " + d.ByPath)
	}
	if d.ByID != "" {
		b.WriteString(" byID " + d.ByID)
	}
	if d.Serial != "" {
		b.WriteString(" serial " + d.Serial)
	}
	switch {
	case d.IsInstallationMedia:
		b.WriteString(" (installation media)")
	case !d.InstallationEligibility.Eligible && len(d.InstallationEligibility.NotEligibleReasons) > 0:
		b.WriteString(" (not eligible: " + strings.Join(d.InstallationEligibility.NotEligibleReasons, "; ") + ")")
	}
	return b.String()
}

// HumanBytes writes a size in decimal units, as disks are sold and the installer reports them.
func HumanBytes(n int64) string {
	switch {
	case n >= 1e12:
		return fmt.Sprintf("%.1f TB", float64(n)/1e12)
	case n >= 1e9:
		return fmt.Sprintf("%.0f GB", float64(n)/1e9)
	default:
		return fmt.Sprintf("%.0f MB", float64(n)/1e6)
	}
}

// SplitIDs splits a comma-separated disk id list (disks_to_be_formatted, skip_formatting_disks).
func SplitIDs(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// HostRequirements are the quantitative minimums of one role (cluster-host-requirements-details).
type HostRequirements struct {
	CPUCores   int   `json:"cpu_cores"`
	RAMMiB     int64 `json:"ram_mib"`
	DiskSizeGB int64 `json:"disk_size_gb"`
}

// RoleRequirements is host-type-hardware-requirements.
type RoleRequirements struct {
	Quantitative HostRequirements `json:"quantitative"`
	Qualitative  []string         `json:"qualitative,omitempty"`
}

// PreflightRequirements is preflight-hardware-requirements: the OCP part, by role. For a
// single-node cluster the master entry holds the single node's minimums.
type PreflightRequirements struct {
	OCP struct {
		Master RoleRequirements `json:"master"`
		Worker RoleRequirements `json:"worker"`
	} `json:"ocp"`
}

// PreflightRequirements reads the hardware the installer requires of the cluster's hosts.
func (c *Client) PreflightRequirements(ctx context.Context, clusterID string) (*PreflightRequirements, error) {
	var out PreflightRequirements
	err := c.call(ctx, request{op: "get preflight requirements", method: "GET", path: "/v2/clusters/" + url.PathEscape(clusterID) + "/preflight-requirements", retry: true}, &out)
	return &out, err
}
