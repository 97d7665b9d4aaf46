package flow_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/cn2-appliance/cn2-appliance/internal/aisim"
	"github.com/cn2-appliance/cn2-appliance/internal/labsim"
	"github.com/cn2-appliance/cn2-appliance/pkg/bmc"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/flow"
)

// bootRecorder is a simulated BMC that records every boot device it was asked for, refused or not.
type bootRecorder struct {
	*labsim.Power
	mu    sync.Mutex
	asked []bmc.BootOptions
}

func (b *bootRecorder) SetBootDevice(ctx context.Context, o bmc.BootOptions) error {
	b.mu.Lock()
	b.asked = append(b.asked, o)
	b.mu.Unlock()
	return b.Power.SetBootDevice(ctx, o)
}

func (b *bootRecorder) devices() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, o := range b.asked {
		out = append(out, string(o.Device)+" "+o.HTTPBootURI)
	}
	return out
}

// TestUEFIHTTPBoot: nodes that boot by uefi-http get boot device http with the appliance's
// ipxe.efi URL as their HTTP boot URI, the PXE artifacts their iPXE boots are cached, and
// once the image is written they boot from disk. A BMC that does not advertise HTTP boot
// gets PXE instead, with one event per node however often it boots (here: two installs,
// around a reprovision).
func TestUEFIHTTPBoot(t *testing.T) {
	lab := exampleLab(t)
	for i := range lab.Nodes {
		lab.Nodes[i].BootMethod = config.BootUEFIHTTP
	}
	noHTTP := map[string]bool{"master-2": true, "worker-1": true}
	sim, url := newSim(t, aisim.Options{})
	nodes := map[string]*bootRecorder{}
	boot := &fakeBoot{}
	f, st := newFlowWith(t, lab, url, t.TempDir(), t.TempDir(), boot, slog.New(slog.DiscardHandler),
		func(node string, p *labsim.Power) flow.Power {
			p.NoHTTPBoot = noHTTP[node]
			nodes[node] = &bootRecorder{Power: p}
			return nodes[node]
		})
	defer st.Close()
	runToEnd(t, f)
	assertInstalledOnce(t, sim, f)
	if boot.scripts != 1 {
		t.Errorf("the PXE artifacts were cached %d times, want once (UEFI HTTP boot's iPXE boots them)", boot.scripts)
	}
	const uri = "http://172.16.0.1:8080/ipxe.efi"
	if got := flow.HTTPBootURI(lab); got != uri {
		t.Errorf("HTTPBootURI = %q, want %q", got, uri)
	}
	check := func(installs int) {
		t.Helper()
		for name, p := range nodes {
			var want []string
			for range installs {
				want = append(want, "http "+uri)
				if noHTTP[name] {
					want = append(want, "pxe ")
				}
				want = append(want, "disk ")
			}
			if got := p.devices(); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("%s was asked for boot devices %q, want %q", name, got, want)
			}
			if d := p.BootDevice(); d != bmc.BootDisk {
				t.Errorf("%s boots from %q after the install, want disk", name, d)
			}
			if c := p.Counts(); c.DiscoveryBoots != installs {
				t.Errorf("%s booted the discovery image %d times, want %d", name, c.DiscoveryBoots, installs)
			}
		}
	}
	check(1)
	if err := f.Reprovision(context.Background()); err != nil {
		t.Fatal(err)
	}
	runToEnd(t, f)
	check(2)
	for name := range nodes {
		n := 0
		for _, e := range nodeEvents(t, st, name) {
			if strings.Contains(e, "UEFI HTTP boot from "+uri+" is not supported by its BMC") && strings.Contains(e, "booting it by PXE instead") {
				n++
			}
		}
		if want := map[bool]int{true: 1}[noHTTP[name]]; n != want {
			t.Errorf("%s: %d events say UEFI HTTP boot fell back to PXE, want %d", name, n, want)
		}
	}
}

// TestVirtualMediaReprovisionInsertsAgain: a virtual-media node's ISO is inserted for its
// discovery boot, ejected once its image is written (boot device disk), and a reprovision
// inserts the new install's ISO again and ejects it again.
func TestVirtualMediaReprovisionInsertsAgain(t *testing.T) {
	lab := exampleLab(t)
	for i := range lab.Nodes {
		lab.Nodes[i].BootMethod = config.BootVirtualMedia
	}
	sim, url := newSim(t, aisim.Options{})
	nodes := map[string]*labsim.Power{}
	f, st := newFlowWith(t, lab, url, t.TempDir(), t.TempDir(), &fakeBoot{}, slog.New(slog.DiscardHandler),
		func(node string, p *labsim.Power) flow.Power {
			nodes[node] = p
			return p
		})
	defer st.Close()
	check := func(installs int) {
		t.Helper()
		for name, p := range nodes {
			c := p.Counts()
			if c.MediaInserts != installs || c.MediaEjects != installs || c.DiscoveryBoots != installs {
				t.Errorf("after %d install(s) %s: %d inserts, %d ejects, %d discovery boots; want %d each", installs, name, c.MediaInserts, c.MediaEjects, c.DiscoveryBoots, installs)
			}
			if m, d := p.Media(), p.BootDevice(); m != "" || d != bmc.BootDisk {
				t.Errorf("after %d install(s) %s has %q attached and boots from %q; want nothing and disk", installs, name, m, d)
			}
		}
	}
	runToEnd(t, f)
	assertInstalledOnce(t, sim, f)
	check(1)
	if err := f.Reprovision(context.Background()); err != nil {
		t.Fatal(err)
	}
	runToEnd(t, f)
	assertInstalledOnce(t, sim, f)
	check(2)
}
