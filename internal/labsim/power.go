// Package labsim simulates the lab's machines for tests and the rehearsal, where no real
// node exists: a node's BMC whose power and boot device drive the Assisted Installer
// simulator (internal/aisim) through its control API, as a real node booting the discovery
// image would make a host appear at the real service. It is a simulator, named as one; the
// real drivers live in pkg/bmc and are tested against real peers.
package labsim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/cn2-appliance/cn2-appliance/pkg/bmc"
)

// Power is one simulated node's BMC. It satisfies the install flow's Power interface.
type Power struct {
	// Control is the simulator's base URL (its control API is under /_sim/).
	Control  string
	MACs     []string // the first one boots
	IPs      []string // CIDR addresses, one per MAC (optional)
	Hostname string
	Client   *http.Client

	mu        sync.Mutex
	on        bool
	forcedOff bool // powered off through this BMC since the last boot
	device    bmc.BootDevice
	media     string
}

func (p *Power) post(ctx context.Context, path string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.Control+"/_sim/"+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	c := p.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("labsim: %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("labsim: %s: simulator answered %s", path, resp.Status)
	}
	return nil
}

// PowerState is off when the simulator says the node powered itself off.
func (p *Power) PowerState(ctx context.Context) (bmc.PowerState, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.Control+"/_sim/powered-off?mac="+p.MACs[0], nil)
	if err != nil {
		return bmc.PowerUnknown, err
	}
	c := p.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return bmc.PowerUnknown, fmt.Errorf("labsim: power state: %w", err)
	}
	defer resp.Body.Close()
	var out struct{ Off, Registered bool }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return bmc.PowerUnknown, fmt.Errorf("labsim: power state: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// The simulator is the node: a registered host runs unless it powered itself off. Only a
	// node the simulator does not know is as this BMC last left it (a BMC restarted with the
	// appliance would otherwise forget a running node).
	switch {
	case out.Off || p.forcedOff:
		p.on = false
	case out.Registered:
		p.on = true
	}
	if p.on {
		return bmc.PowerOn, nil
	}
	return bmc.PowerOff, nil
}

// PowerOn boots the node if it is off.
func (p *Power) PowerOn(ctx context.Context) error {
	p.mu.Lock()
	on := p.on
	p.mu.Unlock()
	if on {
		return nil
	}
	return p.boot(ctx)
}

// PowerCycle (re)boots the node.
func (p *Power) PowerCycle(ctx context.Context) error { return p.boot(ctx) }

// boot starts the node from its next boot device: the discovery image (network or CD) makes
// the host register with the simulator; the disk resumes an install.
func (p *Power) boot(ctx context.Context) error {
	p.mu.Lock()
	device := p.device
	p.mu.Unlock()
	var err error
	if device == bmc.BootPXE || (device == bmc.BootCD && p.media != "") {
		err = p.post(ctx, "boot", map[string]any{"macs": p.MACs, "ips": p.IPs, "hostname": p.Hostname})
	} else {
		err = p.post(ctx, "power-on", map[string]string{"mac": p.MACs[0]})
	}
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.on, p.forcedOff = true, false
	p.mu.Unlock()
	return nil
}

// SetBootDevice sets the next boot device.
func (p *Power) SetBootDevice(_ context.Context, o bmc.BootOptions) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.device = o.Device
	return nil
}

// InsertMedia attaches an ISO.
func (p *Power) InsertMedia(_ context.Context, image string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.media = image
	return nil
}

// PowerOff turns the node off.
func (p *Power) PowerOff(_ context.Context, _ bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.on, p.forcedOff = false, true
	return nil
}
