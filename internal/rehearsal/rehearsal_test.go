package rehearsal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/labsim"
	"github.com/cn2-appliance/cn2-appliance/internal/testlab"
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
