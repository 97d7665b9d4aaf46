package rehearsal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/labsim"
	"github.com/cn2-appliance/cn2-appliance/internal/testlab"
	"github.com/cn2-appliance/cn2-appliance/pkg/bmc"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
)

// needsFlowRemedy are the faults the flow must act on (and say so in a warning event): nothing
// else brings such a node back.
var needsFlowRemedy = map[labsim.Fault]bool{
	labsim.FirmwareHang: true, labsim.PowerOffAfterWrite: true, labsim.DiscoveryAfterWrite: true,
}

// TestRehearseFaults rehearses the example lab with every fault alone and with all of them,
// under two seeds (so the node faults hit different nodes), and checks what Run checks
// (installed, one cluster and one infra env, no spec violations, every fault happened, every
// node booted as often as its faults require and no more, no power cycle performed that the
// flow did not ask for) and that each fault the flow must heal has a remedy recorded after it.
// At most two rehearsals run at once.
func TestRehearseFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("16 rehearsals take minutes")
	}
	path := testlab.Path(t)
	slots := make(chan struct{}, 2)
	for _, seed := range []uint64{1, 2} {
		sets := []labsim.Faults{labsim.AllFaults}
		for _, f := range labsim.AllFaults {
			sets = append(sets, labsim.Faults{f})
		}
		for _, faults := range sets {
			name := fmt.Sprintf("seed%d/%s", seed, faults)
			if len(faults) > 1 {
				name = fmt.Sprintf("seed%d/all", seed)
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				slots <- struct{}{}
				defer func() { <-slots }()
				rehearseWith(t, path, faults, seed)
			})
		}
	}
}

func rehearseWith(t *testing.T, path string, faults labsim.Faults, seed uint64) {
	var out syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	r, err := Run(ctx, path, Options{
		TimeScale: 0.01, Faults: faults, Seed: seed, StateDir: t.TempDir(), Out: &out,
		Log: slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	var failed *Failed
	if err != nil && !errors.As(err, &failed) {
		t.Fatalf("rehearsal did not run: %v\n%s", err, out.String())
	}
	if err != nil {
		t.Errorf("%v", err)
	}
	for _, f := range r.Faults {
		if !r.Installed {
			break // remedies are judged on installs that finished
		}
		if f.Injected && needsFlowRemedy[f.Fault] && !hasFlowRemedy(f) {
			t.Errorf("%s on %s (at +%s): the flow recorded no remedy", f.Fault, f.Node, f.At)
		}
		if f.Fault == labsim.TokenExpiry && f.Injected && len(f.Remedies) == 0 {
			t.Errorf("token-expiry: the installer client fetched no new access token")
		}
	}
	if t.Failed() {
		t.Logf("rehearsal output:\n%s\nfaults: %+v\nnodes: %+v", out.String(), r.Faults, r.Nodes)
	}
}

func hasFlowRemedy(f FaultReport) bool {
	for _, r := range f.Remedies {
		if r.By == "flow" {
			return true
		}
	}
	return false
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestScaleTimeouts(t *testing.T) {
	d := func(x time.Duration) config.Duration { return config.Duration(x) }
	for _, tc := range []struct {
		scale    float64
		in, want config.Timeouts
	}{
		{0.01, config.Timeouts{HostsRegistered: d(20 * time.Minute), ClusterReady: d(10 * time.Minute), Install: d(60 * time.Minute)},
			// 0.01 would make clusterReady 6s: the factor rises so the shortest is 10s.
			config.Timeouts{HostsRegistered: d(20 * time.Second), ClusterReady: d(10 * time.Second), Install: d(60 * time.Second)}},
		{0.1, config.Timeouts{HostsRegistered: d(20 * time.Minute), ClusterReady: d(10 * time.Minute), Install: d(60 * time.Minute)},
			config.Timeouts{HostsRegistered: d(2 * time.Minute), ClusterReady: d(time.Minute), Install: d(6 * time.Minute)}},
		{0.01, config.Timeouts{HostsRegistered: d(5 * time.Second), Install: d(time.Minute)},
			config.Timeouts{HostsRegistered: d(5 * time.Second), Install: d(time.Minute)}}, // never longer than they are
		{0.5, config.Timeouts{}, config.Timeouts{}},
	} {
		got := tc.in
		scaleTimeouts(&got, tc.scale)
		if got != tc.want {
			t.Errorf("scale %v of %+v: %+v, want %+v", tc.scale, tc.in, got, tc.want)
		}
	}
}

// TestRehearseDay2: `rehearse --day2 2` installs the example lab, adds two generated workers
// to it and reloads it; they join the same cluster as day-2 workers: seven nodes in one
// cluster, each new one booted once into discovery, no power cycle the flow did not ask for.
func TestRehearseDay2(t *testing.T) {
	if testing.Short() {
		t.Skip("a rehearsal takes most of a minute")
	}
	var out syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 240*time.Second)
	defer cancel()
	r, err := Run(ctx, testlab.Path(t), Options{
		TimeScale: 0.01, Day2: 2, StateDir: t.TempDir(), Out: &out,
		Log: slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if r.Joined != 7 || r.Total != 7 || r.Clusters != 1 || r.Hosts != 7 || len(r.Day2) != 2 {
		t.Errorf("%d of %d nodes in the cluster, %d cluster(s), %d hosts, day-2 workers %v; want 7 of 7, 1, 7, two\n%s",
			r.Joined, r.Total, r.Clusters, r.Hosts, r.Day2, out.String())
	}
	for _, n := range r.Nodes {
		if n.Boots.Discovery != 1 {
			t.Errorf("%s booted %s", n.Name, n.Boots)
		}
	}
}

// TestRehearseBootMethods: `rehearse --boot virtual-media` and `--boot uefi-http` install the
// example lab that way. By virtual media, each node whose BMC can attach an ISO (all but the
// IPMI one, which boots by PXE) reads the appliance's ISO with Range requests (volume
// descriptors, directories, kernel, initrd: a few ranges, not the whole image), and after the
// install its ISO is ejected and its BMC boots it from disk. By UEFI HTTP boot, each Redfish
// node fetches ipxe.efi and iPXE's autoexec.ipxe, with no boot file from DHCP; IPMI and
// libvirt nodes boot by PXE. Run checks both (checkBoots); the test checks the report too.
func TestRehearseBootMethods(t *testing.T) {
	if testing.Short() {
		t.Skip("two rehearsals take most of a minute")
	}
	for _, tc := range []struct {
		method string
		want   map[string]string // node -> boot method
	}{
		{config.BootVirtualMedia, map[string]string{"master-0": "virtual-media", "master-1": "virtual-media", "master-2": "pxe", "worker-0": "virtual-media", "worker-1": "virtual-media"}},
		{config.BootUEFIHTTP, map[string]string{"master-0": "uefi-http", "master-1": "uefi-http", "master-2": "pxe", "worker-0": "pxe", "worker-1": "pxe"}},
	} {
		t.Run(tc.method, func(t *testing.T) {
			var out syncBuffer
			ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
			defer cancel()
			r, err := Run(ctx, testlab.Path(t), Options{
				TimeScale: 0.01, Boot: tc.method, StateDir: t.TempDir(), Out: &out,
				Log: slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelWarn})),
			})
			if err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			if !r.Installed || r.Boot != tc.method || len(r.Booted) != 5 {
				t.Fatalf("installed %t, boot %q, %d boot reports", r.Installed, r.Boot, len(r.Booted))
			}
			for _, b := range r.Booted {
				if b.Method != tc.want[b.Node] {
					t.Errorf("%s booted by %s, want %s", b.Node, b.Method, tc.want[b.Node])
				}
				if b.Device != bmc.BootDisk || b.Media != "" || b.DiscoveryBoots != 1 {
					t.Errorf("%s: %+v; want one discovery boot, then the disk and no ISO", b.Node, b)
				}
				switch b.Method {
				case config.BootVirtualMedia:
					// PVD (firmware), PVD and terminator (boot loader), 3 directories, 2 files.
					if b.MediaInserts != 1 || b.MediaEjects != 1 || b.ISORanges != 8 {
						t.Errorf("%s: %d inserts, %d ejects, %d ISO ranges; want 1, 1, 8", b.Node, b.MediaInserts, b.MediaEjects, b.ISORanges)
					}
				case config.BootUEFIHTTP:
					if b.HTTPBoots != 1 || b.MediaInserts != 0 {
						t.Errorf("%s: %d HTTP boots, %d inserts; want 1 and 0", b.Node, b.HTTPBoots, b.MediaInserts)
					}
				default:
					if b.HTTPBoots != 0 || b.MediaInserts != 0 || b.ISORanges != 0 {
						t.Errorf("%s boots by PXE: %+v", b.Node, b)
					}
				}
			}
			if len(r.BootKept) == 0 || !strings.Contains(r.BootKept[0], "master-2 (its ipmi BMC cannot boot it by "+tc.method+")") {
				t.Errorf("kept on PXE: %q", r.BootKept)
			}
			if t.Failed() {
				t.Logf("rehearsal output:\n%s", out.String())
			}
		})
	}
}

// TestCheckBoots: what checkBoots refuses in a finished install.
func TestCheckBoots(t *testing.T) {
	ok := BootReport{Node: "m", Method: config.BootVirtualMedia, Device: bmc.BootDisk, MediaInserts: 1, MediaEjects: 1, ISORanges: 8, DiscoveryBoots: 1}
	for _, tc := range []struct {
		name string
		edit func(*BootReport)
		want string
	}{
		{"fine", func(*BootReport) {}, ""},
		{"not ejected", func(b *BootReport) { b.Media, b.MediaEjects = "http://x/iso", 0 }, `with "http://x/iso" attached`},
		{"CD next", func(b *BootReport) { b.Device = bmc.BootCD }, `boots it from "cd"`},
		{"ISO not read", func(b *BootReport) { b.ISORanges = 0 }, "with 0 Range request(s)"},
		{"HTTP boot missing", func(b *BootReport) {
			b.Method, b.MediaInserts, b.MediaEjects, b.ISORanges = config.BootUEFIHTTP, 0, 0, 0
		}, "0 of them by UEFI HTTP boot"},
	} {
		b := ok
		tc.edit(&b)
		got := strings.Join(checkBoots([]BootReport{b}, true), "; ")
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
