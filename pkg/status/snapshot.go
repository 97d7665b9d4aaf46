// Package status serves what a lab engineer watches during an install: an HTML status page
// that refreshes itself, the JSON API behind it (/api/v1/status), Prometheus metrics
// (/metrics), and health endpoints (/healthz, /readyz). It is read-only: it renders a Snapshot
// that pkg/appliance assembles from the services, and never changes anything. Snapshots carry
// no secrets by construction: they hold no field a secret could go into.
package status

import (
	"fmt"
	"strings"
	"time"
)

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
	// Verify is the last check of the installed cluster through its API; nil before the first.
	Verify *Verify `json:"verify,omitempty"`
	// Reload is the outcome of the last reload of the lab file (the start counts as one).
	Reload Reload `json:"reload"`
	// Loops are the appliance's long-running loops and whether each is alive.
	Loops []Loop `json:"loops"`
}

// Reload is the outcome of the last attempt to apply the lab file.
type Reload struct {
	File        string    `json:"file"`
	Time        time.Time `json:"time"`
	Successful  bool      `json:"successful"`
	LastSuccess time.Time `json:"lastSuccess"`
	// Problems say why the last attempt was refused; the appliance still runs the lab it
	// applied at LastSuccess.
	Problems []ReloadProblem `json:"problems,omitempty"`
}

// ReloadProblem is one reason a reload was refused: a finding in the lab file (with its line
// and key), or a service that cannot apply the lab (then Line is 0).
type ReloadProblem struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Key     string `json:"key,omitempty"` // key path, e.g. networks[0].cidr
	Message string `json:"message"`
}

// String is the problem as an editor or a log reads it: file:line:column: key: message.
func (p ReloadProblem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", p.Line, p.Column)
	}
	b.WriteString(": ")
	if p.Key != "" {
		b.WriteString(p.Key + ": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Loop is one long-running loop of the appliance (a DHCP reader, a DNS listener, the flow...).
type Loop struct {
	Name     string    `json:"name"`
	Alive    bool      `json:"alive"`
	LastBeat time.Time `json:"lastBeat"`
	Idle     string    `json:"idle,omitempty"`   // why it waits on purpose
	Wedged   string    `json:"wedged,omitempty"` // why it counts as stuck
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
	// RemovedNodes are in the installed cluster but no longer in the lab file: flagged only.
	RemovedNodes []string `json:"removedNodes,omitempty"`
	// AddressNote says, once, where the addresses shown are really served when that is not
	// where the lab file puts them (the rehearsal on loopback).
	AddressNote string `json:"addressNote,omitempty"`
}

// Cluster is the installer's cluster, as last seen.
type Cluster struct {
	ID         string `json:"id,omitempty"`
	InfraEnvID string `json:"infraEnvID,omitempty"`
	Status     string `json:"status,omitempty"`
	StatusInfo string `json:"statusInfo,omitempty"`
	Progress   int    `json:"progressPercent"`
	// Proxy is the cluster's proxy as the installer keeps it; nil when it has none.
	Proxy *Proxy `json:"proxy,omitempty"`
}

// Proxy is a cluster's proxy. The URLs never carry a password: the appliance redacts it.
type Proxy struct {
	HTTPProxy  string   `json:"httpProxy,omitempty"`
	HTTPSProxy string   `json:"httpsProxy,omitempty"`
	NoProxy    []string `json:"noProxy,omitempty"`
	// TrustBundle names the CAs of the lab's trust bundle (their subjects).
	TrustBundle []string `json:"trustBundle,omitempty"`
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
	// Failing are the node's failing installer validations that a lab key fixes.
	Failing []Validation `json:"failing,omitempty"`
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
	// Plain is the validation in plain words, Fix the lab key that fixes it (ExplainValidation).
	Plain string `json:"plain,omitempty"`
	Fix   string `json:"fix,omitempty"`
}

// Event is one entry of the appliance's event log.
type Event struct {
	Time    time.Time `json:"time"`
	Level   string    `json:"level"`
	Source  string    `json:"source"`
	Node    string    `json:"node,omitempty"`
	Message string    `json:"message"`
}

// Verify is the last check of the installed cluster through its API (cn2-appliance verify).
type Verify struct {
	Time    time.Time `json:"time"`
	Passed  bool      `json:"passed"`
	Skipped string    `json:"skipped,omitempty"` // why the cluster's API was not checked
	Summary string    `json:"summary"`
	// Problems are what is not right yet: nodes, labels, operators, pods, one each.
	Problems []VerifyProblem `json:"problems,omitempty"`
	// CN2Pods are the pods in the namespaces the CN2 manifests create.
	CN2Pods []VerifyPod `json:"cn2Pods,omitempty"`
}

// VerifyProblem is one thing the verification found not right.
type VerifyProblem struct {
	Kind     string `json:"kind"`   // api | node | label | operator | pod
	Object   string `json:"object"` // worker-0, contrail/contrail-control-0
	CN2      bool   `json:"cn2,omitempty"`
	Reason   string `json:"reason"`
	Message  string `json:"message,omitempty"`
	Image    string `json:"image,omitempty"`
	Registry string `json:"registry,omitempty"`
	Hint     string `json:"hint,omitempty"`
}

// VerifyPod is one CN2 pod as the verification saw it.
type VerifyPod struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Node      string `json:"node,omitempty"`
	Status    string `json:"status"`
	OK        bool   `json:"ok"`
}
