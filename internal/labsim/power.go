// Package labsim simulates the lab's machines for tests and the rehearsal, where no real
// node exists: a node's BMC whose power and boot device drive the Assisted Installer
// simulator (internal/aisim) through its control API, as a real node booting the discovery
// image would make a host appear at the real service, and the named faults (faults.go) a real
// lab has: firmware that hangs, BMCs that answer late or not at all. It is a simulator, named
// as one; the real drivers live in pkg/bmc and are tested against real peers. A node is a
// bmc.Driver, so the rehearsal drives it through the real bmc.Client and its retry policy.
package labsim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/cn2-appliance/cn2-appliance/internal/aisim"
	"github.com/cn2-appliance/cn2-appliance/pkg/bmc"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
)

// DriverName is the simulated BMC's driver name.
const DriverName = "labsim"

// Power is one simulated node's BMC. It is a bmc.Driver with every power, boot-device and
// virtual-media capability, and satisfies the install flow's Power interface by itself too.
type Power struct {
	// Control is the simulator's base URL (its control API is under /_sim/).
	Control  string
	MACs     []string // the first one boots
	IPs      []string // CIDR addresses, one per MAC (optional)
	Hostname string
	// Machine is what the node's discovery agent reports, and its BMC describes (Hardware);
	// nil: NodeHardware of a node named Hostname, seed 0.
	Machine *aisim.Hardware
	Client  *http.Client
	// Faults are this node's firmware and BMC faults (none when zero).
	Faults NodeFaults
	// NoHTTPBoot makes the BMC one that does not advertise UEFI HTTP boot: it refuses boot
	// device http as not supported, as bmc drivers do.
	NoHTTPBoot bool

	mu        sync.Mutex
	on        bool
	forcedOff bool // powered off through this BMC since the last boot
	device    bmc.BootDevice
	httpURI   string // the UEFI HTTP boot URI, with device http
	media     string
	counts    Counts
	fired     map[Fault]bool // faults that happened already (each happens once)
}

// Counts are what happened to one node, as the node and its BMC saw it.
type Counts struct {
	DiscoveryBoots int // booted the discovery image (from the network, or the virtual CD)
	DiskBoots      int // booted the installed system from disk
	FirmwareHangs  int // started, but hung in firmware (no DHCP)
	FailedBoots    int // network boots that failed on the way (DHCP, TFTP, HTTP)
	Cycles         int // power cycles the BMC performed, whatever became of their replies
	PowerOns       int // power-ons the BMC performed on a node that was off
	PowerOffs      int // power-offs the BMC performed
	// MediaInserts and MediaEjects count the virtual CD's inserts and ejects.
	MediaInserts, MediaEjects int
	// ISORanges counts the Range requests the node's firmware read the virtual CD's ISO
	// with (each answered 206 Partial Content); HTTPBoots the UEFI HTTP boots that fetched
	// the boot URI.
	ISORanges, HTTPBoots int
}

// Counts returns what happened to the node so far.
func (p *Power) Counts() Counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts
}

func (p *Power) count(c func(*Counts)) {
	p.mu.Lock()
	c(&p.counts)
	p.mu.Unlock()
}

// Name is the driver's name.
func (p *Power) Name() string { return DriverName }

// Open connects to the simulated BMC: there is nothing to connect.
func (p *Power) Open(context.Context) error { return nil }

// Close disconnects from the simulated BMC.
func (p *Power) Close() error { return nil }

func (p *Power) httpClient() *http.Client {
	if p.Client != nil {
		return p.Client
	}
	return http.DefaultClient
}

// postBoot tells the installer simulator that the discovery image booted on this node, with
// the machine its agent reports.
func (p *Power) postBoot(ctx context.Context) error {
	return p.post(ctx, "boot", map[string]any{"macs": p.MACs, "ips": p.IPs, "hostname": p.Hostname, "hardware": p.machine()})
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
	resp, err := p.httpClient().Do(req)
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
	resp, err := p.httpClient().Do(req)
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
func (p *Power) PowerOn(ctx context.Context) error { return p.powerOn(ctx, p.start) }

// PowerCycle (re)boots the node.
func (p *Power) PowerCycle(ctx context.Context) error { return p.powerCycle(ctx, p.start) }

// PowerOff turns the node off.
func (p *Power) PowerOff(ctx context.Context, _ bool) error {
	return p.act(ctx, bmc.OpPowerOff, false, func(context.Context) error {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.on, p.forcedOff = false, true
		p.counts.PowerOffs++
		return nil
	})
}

func (p *Power) powerOn(ctx context.Context, start func(context.Context) error) error {
	return p.act(ctx, bmc.OpPowerOn, false, func(ctx context.Context) error {
		if state, _ := p.PowerState(ctx); state == bmc.PowerOn {
			return nil
		}
		if err := start(ctx); err != nil {
			return err
		}
		p.count(func(c *Counts) { c.PowerOns++ })
		return nil
	})
}

func (p *Power) powerCycle(ctx context.Context, start func(context.Context) error) error {
	return p.act(ctx, bmc.OpPowerCycle, true, func(ctx context.Context) error {
		if err := start(ctx); err != nil {
			return err
		}
		p.count(func(c *Counts) { c.Cycles++ })
		return nil
	})
}

// start starts the node from its next boot device: the discovery image (network or CD) makes
// the host register with the simulator; the disk resumes an install.
func (p *Power) start(ctx context.Context) error {
	if p.hangs() {
		return nil
	}
	p.mu.Lock()
	device, media, uri := p.device, p.media, p.httpURI
	p.mu.Unlock()
	if device == bmc.BootPXE || (device == bmc.BootCD && media != "") || (device == bmc.BootHTTP && uri != "") {
		if err := p.postBoot(ctx); err != nil {
			return err
		}
		p.count(func(c *Counts) { c.DiscoveryBoots++ })
	} else {
		if err := p.diskBooted(ctx); err != nil {
			return err
		}
	}
	p.mu.Lock()
	p.on, p.forcedOff = true, false
	p.mu.Unlock()
	return nil
}

func (p *Power) machine() *aisim.Hardware {
	if p.Machine != nil {
		return p.Machine
	}
	hw := NodeHardware(config.Node{Name: p.Hostname}, 0)
	return &hw
}

// diskBooted tells the simulator the node booted its installed system from disk.
func (p *Power) diskBooted(ctx context.Context) error {
	if err := p.post(ctx, "power-on", map[string]string{"mac": p.MACs[0]}); err != nil {
		return err
	}
	p.count(func(c *Counts) { c.DiskBoots++ })
	return nil
}

// BootDevice is the device the next boot uses ("" until one is set).
func (p *Power) BootDevice() bmc.BootDevice {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.device
}

// next is what the next boot boots: the device, the attached ISO and the HTTP boot URI.
func (p *Power) next() (device bmc.BootDevice, media, httpURI string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.device, p.media, p.httpURI
}

// SetBootDevice sets the next boot device; http needs a boot URI, and a BMC with NoHTTPBoot
// refuses it as not supported.
func (p *Power) SetBootDevice(_ context.Context, o bmc.BootOptions) error {
	if o.Device == bmc.BootHTTP {
		if p.NoHTTPBoot {
			return fmt.Errorf("labsim: boot device http: %w: this BMC does not advertise UEFI HTTP boot", bmc.ErrNotSupported)
		}
		if o.HTTPBootURI == "" {
			return fmt.Errorf("labsim: boot device http: %w: no boot URI", bmc.ErrInvalid)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.device, p.httpURI = o.Device, ""
	if o.Device == bmc.BootHTTP {
		p.httpURI = o.HTTPBootURI
	}
	return nil
}

// InsertMedia attaches an ISO.
func (p *Power) InsertMedia(_ context.Context, image string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.media = image
	p.counts.MediaInserts++
	return nil
}

// Media is the ISO attached as the virtual CD; "" when none is.
func (p *Power) Media() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.media
}

// EjectMedia detaches the ISO.
func (p *Power) EjectMedia(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.media = ""
	p.counts.MediaEjects++
	return nil
}

// Both simulated nodes are BMC drivers with every capability but probing.
var (
	_ interface {
		bmc.Driver
		bmc.PowerStater
		bmc.PowerOner
		bmc.PowerOffer
		bmc.PowerCycler
		bmc.BootDeviceSetter
		bmc.MediaInserter
	} = (*Power)(nil)
	_ interface {
		bmc.PowerCycler
		bmc.PowerOner
		bmc.MediaInserter
	} = (*NetNode)(nil)
)
