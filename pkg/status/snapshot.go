// Package status serves what a lab engineer watches during an install: an HTML status page
// that refreshes itself, the JSON API behind it (/api/v1/status), Prometheus metrics
// (/metrics), and health endpoints (/healthz, /readyz). It is read-only: it renders a Snapshot
// that pkg/appliance assembles from the services, and never changes anything. Snapshots carry
// no secrets by construction: they hold no field a secret could go into.
package status

import "time"

// Snapshot is the whole state of the appliance at one moment.
type Snapshot struct {
	Time    time.Time `json:"time"`
	Version string    `json:"version"`
	Lab     Lab       `json:"lab"`
	Cluster Cluster   `json:"cluster"`
	Steps   []Step    `json:"steps"`
	Nodes   []Node    `json:"nodes"`
	// UnknownHosts are hosts the installer sees that match no node of the lab; they are
	// never bound.
	UnknownHosts []UnknownHost `json:"unknownHosts"`
	Validations  []Validation  `json:"failingValidations"`
	Events       []Event       `json:"events"`
	// Doctor is the last preflight's report; nil before the first.
	Doctor *Doctor `json:"doctor,omitempty"`
}

// Doctor is the last run of the preflight checks (cn2-appliance doctor).
type Doctor struct {
	Time     time.Time      `json:"time"`
	Duration time.Duration  `json:"durationNanoseconds"`
	Failed   bool           `json:"failed"` // some result is an error: the install waits
	Results  []DoctorResult `json:"results"`
}

// DoctorResult is one finding of one check.
type DoctorResult struct {
	Check   string `json:"check"`
	Target  string `json:"target"`
	Status  string `json:"status"` // ok | skipped | warning | error
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"`
}

// Lab is the lab file the appliance runs.
type Lab struct {
	File             string `json:"file"`
	Zone             string `json:"zone"`
	OpenshiftVersion string `json:"openshiftVersion"`
	APIVIP           string `json:"apiVIP"`
	IngressVIP       string `json:"ingressVIP"`
	NeedsReprovision bool   `json:"needsReprovision"`
	ReprovisionWhy   string `json:"reprovisionWhy,omitempty"`
}

// Cluster is the installer's cluster, as last seen.
type Cluster struct {
	ID         string `json:"id,omitempty"`
	InfraEnvID string `json:"infraEnvID,omitempty"`
	Status     string `json:"status,omitempty"`
	StatusInfo string `json:"statusInfo,omitempty"`
	Progress   int    `json:"progressPercent"`
}

// Step is one step of the install flow.
type Step struct {
	Name      string        `json:"name"`
	State     string        `json:"state"` // pending | running | done | failed
	Started   time.Time     `json:"started,omitzero"`
	Finished  time.Time     `json:"finished,omitzero"`
	Duration  time.Duration `json:"durationNanoseconds,omitempty"`
	Attempts  int           `json:"attempts,omitempty"`
	LastError string        `json:"lastError,omitempty"`
}

// Node is one machine of the lab with everything known about it.
type Node struct {
	Name         string `json:"name"`
	Role         string `json:"role"`
	DPDK         bool   `json:"dpdk"`
	NICs         []NIC  `json:"nics"`
	PXEProfile   string `json:"pxeProfile,omitempty"`
	Power        string `json:"power,omitempty"`
	BMCDriver    string `json:"bmcDriver"`
	HostID       string `json:"hostID,omitempty"`
	HostStatus   string `json:"hostStatus,omitempty"`
	HostStage    string `json:"hostStage,omitempty"`
	HostProgress int    `json:"hostProgressPercent,omitempty"`
	// Boots counts the boots into the discovery image the flow sent.
	Boots int `json:"boots,omitempty"`
	// NeedsAttention says why the flow gave up remedying the node ("" when it did not).
	NeedsAttention string `json:"needsAttention,omitempty"`
	// Remedies are the remedies the flow applied to the node, oldest first (the last few).
	Remedies []Remedy `json:"remedies,omitempty"`
}

// Remedy is one remedy the install flow applied to a node.
type Remedy struct {
	Time   time.Time `json:"time"`
	Action string    `json:"action"`
	Reason string    `json:"reason"`
	Error  string    `json:"error,omitempty"`
}

// NIC is one of a node's interfaces and its DHCP lease.
type NIC struct {
	Network     string    `json:"network"`
	MAC         string    `json:"mac"`
	IP          string    `json:"ip"`
	LeaseExpiry time.Time `json:"leaseExpiry,omitzero"` // zero: no lease yet
}

// UnknownHost is a host the installer discovered that the lab does not declare.
type UnknownHost struct {
	ID       string   `json:"id"`
	Hostname string   `json:"hostname"`
	MACs     []string `json:"macs"`
	Status   string   `json:"status"`
}

// Validation is a failing installer validation, in plain words.
type Validation struct {
	Scope   string `json:"scope"` // "cluster" or a node/host name
	ID      string `json:"id"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

// Event is one entry of the appliance's event log.
type Event struct {
	Time    time.Time `json:"time"`
	Level   string    `json:"level"`
	Source  string    `json:"source"`
	Node    string    `json:"node,omitempty"`
	Message string    `json:"message"`
}
