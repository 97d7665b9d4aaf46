package pxe

import (
	"encoding/json"
	"fmt"
	"net"
	"time"
)

// Profile is what a node boots into when it network-boots.
type Profile string

const (
	// Discovery boots the discovery image from the boot cache (the default for lab nodes).
	Discovery Profile = "discovery"
	// Disk boots the local disk: the node has written its installation image.
	Disk Profile = "disk"
)

// BootProfiles is what the install flow drives: discovery until a host has written its disk,
// disk afterwards, discovery again after a reset. *Profiles implements it.
type BootProfiles interface {
	// Profile returns the MAC's profile; Discovery when none was ever set.
	Profile(mac net.HardwareAddr) (Profile, error)
	// SetProfile records the MAC's profile durably; reason is shown in logs and the status page.
	SetProfile(mac net.HardwareAddr, p Profile, reason string) error
}

// DocStore is the part of pkg/store the profiles use (*store.Store implements it).
type DocStore interface {
	PutDoc(kind, key string, v any) error
	GetDoc(kind, key string, v any) (bool, error)
	Docs(kind string) (map[string]json.RawMessage, error)
}

// docKind is the store document kind of the profiles; keys are MACs as 52-54-00-00-00-11.
const docKind = "pxe"

// ProfileRecord is a stored profile.
type ProfileRecord struct {
	Profile Profile   `json:"profile"`
	Reason  string    `json:"reason,omitempty"`
	Changed time.Time `json:"changed"`
}

// Profiles keeps boot profiles per MAC in a DocStore.
type Profiles struct {
	docs DocStore
	m    *metrics
}

var _ BootProfiles = (*Profiles)(nil)

// NewProfiles returns the profiles kept in docs. The appliance gets its instance from
// Server.Profiles; tests and offline tools (with the appliance stopped) may use this.
func NewProfiles(docs DocStore) *Profiles { return &Profiles{docs: docs} }

// Profile implements BootProfiles.
func (p *Profiles) Profile(mac net.HardwareAddr) (Profile, error) {
	r, err := p.Record(mac)
	return r.Profile, err
}

// Record returns the MAC's stored record (Profile Discovery, zero time when none).
func (p *Profiles) Record(mac net.HardwareAddr) (ProfileRecord, error) {
	r := ProfileRecord{Profile: Discovery}
	if len(mac) != 6 {
		return r, fmt.Errorf("pxe: profile of %q: want a 6-byte MAC", mac)
	}
	if _, err := p.docs.GetDoc(docKind, macKey(mac), &r); err != nil {
		return ProfileRecord{Profile: Discovery}, fmt.Errorf("pxe: profile of %s: %w", mac, err)
	}
	if r.Profile != Disk {
		r.Profile = Discovery
	}
	return r, nil
}

// SetProfile implements BootProfiles.
func (p *Profiles) SetProfile(mac net.HardwareAddr, prof Profile, reason string) error {
	if len(mac) != 6 {
		return fmt.Errorf("pxe: set profile of %q: want a 6-byte MAC", mac)
	}
	if prof != Discovery && prof != Disk {
		return fmt.Errorf("pxe: set profile of %s: unknown profile %q (want discovery or disk)", mac, prof)
	}
	r := ProfileRecord{Profile: prof, Reason: reason, Changed: time.Now().UTC()}
	if err := p.docs.PutDoc(docKind, macKey(mac), r); err != nil {
		return fmt.Errorf("pxe: set profile of %s to %s: %w", mac, prof, err)
	}
	if p.m != nil {
		p.m.profiles.WithLabelValues(string(prof)).Inc()
	}
	return nil
}

// All returns every stored record by MAC (52-54-00-00-00-11 form).
func (p *Profiles) All() (map[string]ProfileRecord, error) {
	docs, err := p.docs.Docs(docKind)
	if err != nil {
		return nil, fmt.Errorf("pxe: list profiles: %w", err)
	}
	out := make(map[string]ProfileRecord, len(docs))
	for k, raw := range docs {
		var r ProfileRecord
		if err := json.Unmarshal(raw, &r); err != nil {
			return nil, fmt.Errorf("pxe: list profiles: %s: %w", k, err)
		}
		out[k] = r
	}
	return out, nil
}
