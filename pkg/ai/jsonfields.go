package ai

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
)

// Several of the service's fields are JSON text inside a JSON string. The helpers below
// turn them into Go values and back.

// PullSecret checks that text is a pull secret (a JSON object with "auths") and returns it
// compacted, ready for the pull_secret field. The error never quotes the secret.
func PullSecret(text []byte) (string, error) {
	var ps struct {
		Auths map[string]json.RawMessage `json:"auths"`
	}
	if err := json.Unmarshal(text, &ps); err != nil {
		return "", errors.New("ai: pull secret is not a JSON object")
	}
	if len(ps.Auths) == 0 {
		return "", errors.New(`ai: pull secret has no "auths"`)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, text); err != nil {
		return "", errors.New("ai: pull secret is not valid JSON")
	}
	return buf.String(), nil
}

// InstallConfigOverride marshals overrides (e.g. {"networking":{"networkType":"Contrail"}})
// into the override text stored by the service. The PATCH body is this text as a JSON string,
// which Client.UpdateInstallConfig does.
func InstallConfigOverride(overrides any) (string, error) {
	b, err := json.Marshal(overrides)
	if err != nil {
		return "", fmt.Errorf("ai: install-config override: %w", err)
	}
	if len(b) == 0 || b[0] != '{' {
		return "", errors.New("ai: install-config override must be a JSON object")
	}
	return string(b), nil
}

// ParseInstallConfigOverride decodes cluster.install_config_overrides ("" → empty map).
func ParseInstallConfigOverride(text string) (map[string]any, error) {
	m := map[string]any{}
	if text == "" {
		return m, nil
	}
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		return nil, fmt.Errorf("ai: install_config_overrides: %w", err)
	}
	return m, nil
}

// Validation is one entry of validations_info.
type Validation struct {
	Category string `json:"-"`
	ID       string `json:"id"`
	Status   string `json:"status"`
	Message  string `json:"message"`
}

// Validations is validations_info: category → entries.
type Validations map[string][]Validation

// ParseValidations decodes a cluster's or host's validations_info ("" → none).
func ParseValidations(text string) (Validations, error) {
	v := Validations{}
	if text == "" {
		return v, nil
	}
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		return nil, fmt.Errorf("ai: validations_info: %w", err)
	}
	for cat, list := range v {
		for i := range list {
			list[i].Category = cat
		}
	}
	return v, nil
}

// Failing lists the entries whose status is failure or error, sorted by category and id.
func (v Validations) Failing() []Validation {
	var out []Validation
	for _, list := range v {
		for _, e := range list {
			if e.Status == "failure" || e.Status == "error" {
				out = append(out, e)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Category != out[j].Category {
			return out[i].Category < out[j].Category
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Interface is one NIC of a host inventory.
type Interface struct {
	Name          string   `json:"name"`
	MACAddress    string   `json:"mac_address"`
	IPv4Addresses []string `json:"ipv4_addresses"`
}

// SystemVendor is inventory.system_vendor.
type SystemVendor struct {
	Manufacturer string `json:"manufacturer,omitempty"`
	ProductName  string `json:"product_name,omitempty"`
	SerialNumber string `json:"serial_number,omitempty"`
	Virtual      bool   `json:"virtual,omitempty"`
}

// Inventory is the part of host.inventory the flow uses.
type Inventory struct {
	Hostname     string       `json:"hostname"`
	BMCAddress   string       `json:"bmc_address,omitempty"`
	Interfaces   []Interface  `json:"interfaces"`
	SystemVendor SystemVendor `json:"system_vendor"`
	Disks        []Disk       `json:"disks,omitempty"`
	CPU          *CPU         `json:"cpu,omitempty"`
	Memory       *Memory      `json:"memory,omitempty"`
}

// inventoryDecodes counts ParseInventory's decodes, so tests can assert that a caller's work
// stays linear in the hosts (one decode per host per poll).
var inventoryDecodes atomic.Int64

// InventoryDecodes is how many inventories ParseInventory has decoded in this process.
func InventoryDecodes() int64 { return inventoryDecodes.Load() }

// ParseInventory decodes host.inventory ("" → nil: the host has not sent one yet).
func ParseInventory(text string) (*Inventory, error) {
	if text == "" {
		return nil, nil
	}
	inventoryDecodes.Add(1)
	var inv Inventory
	if err := json.Unmarshal([]byte(text), &inv); err != nil {
		return nil, fmt.Errorf("ai: host inventory: %w", err)
	}
	return &inv, nil
}

// ParsedInventory is ParseInventory of the host's inventory, decoded once per host value:
// again only when its Inventory text changes. The result is shared: callers must not change
// it. A host's first ParsedInventory (or MACs, or Name) must not race with another.
func (h *Host) ParsedInventory() (*Inventory, error) {
	if h.parsed != nil && h.parsedFrom == h.Inventory {
		return h.parsed, nil
	}
	inv, err := ParseInventory(h.Inventory)
	if err != nil || inv == nil {
		return inv, err
	}
	h.parsed, h.parsedFrom = inv, h.Inventory
	return inv, nil
}

// MACs returns the host's NIC MAC addresses in lower case (none before the inventory arrives).
func (h *Host) MACs() []string {
	inv, err := h.ParsedInventory()
	if err != nil || inv == nil {
		return nil
	}
	out := make([]string, 0, len(inv.Interfaces))
	for _, i := range inv.Interfaces {
		out = append(out, strings.ToLower(i.MACAddress))
	}
	return out
}

// HasMAC reports whether one of the host's NICs has mac (case-insensitive).
func (h *Host) HasMAC(mac string) bool {
	mac = strings.ToLower(mac)
	for _, m := range h.MACs() {
		if m == mac {
			return true
		}
	}
	return false
}

// Labels decodes host.node_labels (a JSON object of key → value; "" → none).
func (h *Host) Labels() (map[string]string, error) {
	m := map[string]string{}
	if h.NodeLabels == "" {
		return m, nil
	}
	if err := json.Unmarshal([]byte(h.NodeLabels), &m); err != nil {
		return nil, fmt.Errorf("ai: host node_labels: %w", err)
	}
	return m, nil
}

// Name is the host's effective name: the requested name, else the inventory's hostname.
func (h *Host) Name() string {
	if h.RequestedHostname != "" {
		return h.RequestedHostname
	}
	if inv, err := h.ParsedInventory(); err == nil && inv != nil {
		return inv.Hostname
	}
	return ""
}
