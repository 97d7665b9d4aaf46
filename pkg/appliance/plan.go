package appliance

import (
	"net/netip"

	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/flow"
)

// Plan is everything the appliance will do for a lab, derived from the lab file alone: what
// `cn2-appliance plan -o json` prints and what a run report's plan.json holds (one object,
// built by NewPlan, for both). Secrets are never part of it: config.Secret fields do not
// marshal.
type Plan struct {
	Lab          *config.Lab                     `json:"lab"`
	Reservations map[string][]config.Reservation `json:"dhcpReservations"`
	// NTPServers per network: what DHCP hands out, with the port asked.
	NTPServers    map[string][]netip.AddrPort `json:"ntpServers"`
	DNSZones      []config.DNSZone            `json:"dnsZones"`
	ExpectedHosts []config.ExpectedHost       `json:"expectedHosts"`
	Boot          []config.BootStep           `json:"bootPlan"`
	InstallSteps  []string                    `json:"installSteps"`
	// NoProxy is the final no-proxy list the installer objects get (none without a proxy).
	NoProxy []string `json:"noProxy,omitempty"`
}

// NewPlan derives the plan of lab.
func NewPlan(lab *config.Lab) Plan {
	p := Plan{
		Lab:           lab,
		Reservations:  map[string][]config.Reservation{},
		NTPServers:    map[string][]netip.AddrPort{},
		DNSZones:      lab.DNSZones(),
		ExpectedHosts: lab.ExpectedHosts(),
		Boot:          lab.BootPlan(),
		InstallSteps:  flow.StepNames,
		NoProxy:       lab.NoProxy(),
	}
	for _, n := range lab.Networks {
		p.Reservations[n.Name] = lab.Reservations(n.Name)
		p.NTPServers[n.Name] = lab.NTPEndpoints(n.Name)
	}
	return p
}
