package flow_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/aisim"
	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/flow"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
)

// The crash test re-executes the test binary as the appliance (TestCrashHelper), with
// crashChildEnv carrying what the child needs, as JSON.
const crashChildEnv = "CN2_FLOW_CRASH_CHILD"

type crashChildConfig struct {
	URL   string `json:"url"`
	State string `json:"state"`
	Out   string `json:"out"`
}

// TestCrashHelper is the child process of TestCrashSafety: the install flow of the example lab
// against the parent's simulator, built as the other flow tests build it. It writes every log
// record as a JSON line on stdout and then waits for one byte on stdin, so the parent can
// SIGKILL it exactly there (or let it go on). It exits 0 once the flow is done.
func TestCrashHelper(t *testing.T) {
	raw := os.Getenv(crashChildEnv)
	if raw == "" {
		t.Skip("the child process of TestCrashSafety; it runs only when that test starts it")
	}
	var cfg crashChildConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatal(err)
	}
	lab := exampleLab(t)
	h := &lockstepHandler{Handler: slog.NewJSONHandler(os.Stdout, nil), mu: &sync.Mutex{}, in: bufio.NewReader(os.Stdin)}
	f, st := newFlowLog(t, lab, cfg.URL, cfg.State, cfg.Out, &fakeBoot{}, slog.New(h))
	defer st.Close()
	runToEnd(t, f)
}

// lockstepHandler writes a record, then waits for the parent's go-ahead (any byte on stdin;
// end of input lets the child run free).
type lockstepHandler struct {
	slog.Handler
	mu *sync.Mutex
	in *bufio.Reader
}

func (h *lockstepHandler) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	err := h.Handler.Handle(ctx, r)
	_, _ = h.in.ReadByte()
	return err
}

func (h *lockstepHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &lockstepHandler{Handler: h.Handler.WithAttrs(as), mu: h.mu, in: h.in}
}

func (h *lockstepHandler) WithGroup(name string) slog.Handler {
	return &lockstepHandler{Handler: h.Handler.WithGroup(name), mu: h.mu, in: h.in}
}

// Child log lines the parent acts on.
const (
	msgStarted            = "flow: step started"
	msgDone               = "flow: step done"
	msgRegisteredCluster  = "flow: registered cluster"
	msgRegisteredInfraEnv = "flow: registered infra env"
)

// position orders the flow's step boundaries: 2i is "step i started", 2i+1 "step i done";
// other lines have none (-1).
func position(step, msg string) int {
	i := slices.Index(flow.StepNames, step)
	switch {
	case i < 0:
		return -1
	case msg == msgStarted:
		return 2 * i
	case msg == msgDone:
		return 2*i + 1
	}
	return -1
}

func describe(pos int) string {
	if pos%2 == 0 {
		return "started " + flow.StepNames[pos/2]
	}
	return "done " + flow.StepNames[pos/2]
}

// killPoint is where a child is SIGKILLed: on the line of a step boundary (pos), or delay
// after it (a kill inside the step, or on its done line if the step ends first); on the first
// line starting with msg; or, with window set, inside the simulator's handler of that request,
// after the installer created the object and before its answer leaves.
type killPoint struct {
	pos    int
	delay  time.Duration
	msg    string
	window string // "METHOD /path"
}

func (p killPoint) String() string {
	switch {
	case p.window != "":
		return "in the installer, inside " + p.window
	case p.msg != "":
		return "on " + strings.TrimPrefix(p.msg, "flow: ")
	case p.delay == 0:
		return "on " + describe(p.pos)
	default:
		return fmt.Sprintf("%s + %s", describe(p.pos), p.delay.Round(10*time.Microsecond))
	}
}

// crashChild is one run of the appliance.
type crashChild struct {
	cmd    *exec.Cmd
	dead   chan struct{} // closed once the process has been reaped
	mu     sync.Mutex
	killed bool
}

func (c *crashChild) kill() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.killed {
		c.killed = true
		_ = c.cmd.Process.Signal(os.Kill) // SIGKILL
	}
}

func (c *crashChild) killSent() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.killed
}

// crashRig runs children on one state folder against one simulator, and kills them.
type crashRig struct {
	t      *testing.T
	ctx    context.Context
	exe    string
	env    string
	sim    *aisim.Sim
	url    string
	state  string
	out    string
	client *ai.Client
	output bytes.Buffer // the last child's other output, for failure messages

	mu      sync.Mutex
	current *crashChild
	armed   string // "METHOD /path" whose creation kills the current child
}

func newCrashRig(t *testing.T, ctx context.Context, lab *config.Lab, exe string) *crashRig {
	t.Helper()
	r := &crashRig{t: t, ctx: ctx, exe: exe, state: t.TempDir(), out: t.TempDir()}
	r.sim, r.url = newSimWith(t, aisim.Options{}, r.wrap)
	cfg, _ := json.Marshal(crashChildConfig{URL: r.url, State: r.state, Out: r.out})
	r.env = crashChildEnv + "=" + string(cfg)
	client, err := ai.New(ai.Config{URL: r.url, OfflineToken: string(lab.AssistedInstaller.OfflineToken.Reveal()), TokenURL: r.url + aisim.TokenPath})
	if err != nil {
		t.Fatal(err)
	}
	r.client = client
	return r
}

// wrap puts a kill switch in front of the simulator: an armed creation runs in the
// simulator, then the child is killed and reaped before the answer is written.
func (r *crashRig) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		key := req.Method + " " + req.URL.Path
		r.mu.Lock()
		armed, child := r.armed == key, r.current
		r.mu.Unlock()
		if !armed || child == nil {
			next.ServeHTTP(w, req)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, req)
		if rec.Code == http.StatusCreated {
			r.mu.Lock()
			r.armed = ""
			r.mu.Unlock()
			child.kill()
			select { // the answer goes out only once nobody can read it
			case <-child.dead:
			case <-r.ctx.Done():
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

// childRun is what one child did.
type childRun struct {
	killed  bool
	landed  string                // where the kill landed
	err     error                 // the exit error when not killed
	trouble []string              // the warnings and errors it logged
	timings map[int]time.Duration // step boundary -> time since the child started
}

type childLine struct {
	pos   int
	msg   string
	level string
	text  string
	at    time.Duration
}

// run starts a child and kills it at p (nil: never), returning once it is reaped.
func (r *crashRig) run(p *killPoint) childRun {
	r.t.Helper()
	cmd := exec.CommandContext(r.ctx, r.exe, "-test.run=^TestCrashHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), r.env)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		r.t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		r.t.Fatal(err)
	}
	r.output.Reset()
	cmd.Stderr = &r.output
	child := &crashChild{cmd: cmd, dead: make(chan struct{})}
	r.mu.Lock()
	r.current = child
	if p != nil {
		r.armed = p.window
	}
	r.mu.Unlock()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}

	lines := make(chan childLine)
	var other []string
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var rec struct {
				Level string `json:"level"`
				Msg   string `json:"msg"`
				Step  string `json:"step"`
			}
			if json.Unmarshal(sc.Bytes(), &rec) != nil || rec.Msg == "" {
				other = append(other, sc.Text())
				continue
			}
			lines <- childLine{position(rec.Step, rec.Msg), rec.Msg, rec.Level, sc.Text(), time.Since(start)}
		}
	}()

	out := childRun{timings: map[int]time.Duration{}}
	ack := func() { _, _ = stdin.Write([]byte{1}) }
	var (
		timer     *time.Timer
		inside    = -1 // the boundary a delayed kill counts from
		held      = -1 // a boundary line kept waiting for the delayed kill
		triggered = p == nil || p.window != ""
	)
	for l := range lines {
		if l.level == slog.LevelWarn.String() || l.level == slog.LevelError.String() {
			out.trouble = append(out.trouble, l.text)
			child.kill() // no retrying: the test fails now
			continue
		}
		if l.pos >= 0 {
			out.timings[l.pos] = l.at
		}
		switch {
		case timer != nil && l.pos >= 0: // the step ended before the delay: the kill lands here
			held = l.pos
		case !triggered && (p.msg != "" && strings.HasPrefix(l.msg, p.msg) || p.msg == "" && l.pos >= p.pos):
			triggered = true
			if l.pos >= 0 && l.pos != p.pos {
				r.t.Errorf("kill point %s: the child went past it to %s", p, describe(l.pos))
			}
			if p.delay == 0 {
				child.kill()
				out.landed = "on " + strings.TrimPrefix(l.msg, "flow: ")
				if l.pos >= 0 {
					out.landed = "on " + describe(l.pos)
				}
				continue
			}
			inside = l.pos
			timer = time.AfterFunc(p.delay, child.kill)
			ack()
		default:
			ack()
		}
	}
	_ = stdin.Close()
	err = cmd.Wait()
	if timer != nil {
		timer.Stop()
	}
	close(child.dead)
	r.mu.Lock()
	r.current, r.armed = nil, ""
	r.mu.Unlock()
	r.output.WriteString(strings.Join(other, "\n"))

	// Killed: a kill was sent and the child died of a signal, not on its own first.
	out.killed = child.killSent() && cmd.ProcessState.ExitCode() == -1
	switch {
	case !out.killed:
		out.err = err
	case held >= 0:
		out.landed = "on " + describe(held) + " (the step ended within the delay)"
	case inside >= 0:
		out.landed = "inside " + flow.StepNames[inside/2]
	case p != nil && p.window != "":
		out.landed = "inside " + p.window
	}
	return out
}

// mustKill runs a child that must be killed at p.
func (r *crashRig) mustKill(p killPoint) childRun {
	r.t.Helper()
	run := r.run(&p)
	r.noTrouble(run)
	if !run.killed {
		r.t.Fatalf("the child was to be killed %s but ended: %v\n%s", p, run.err, r.output.String())
	}
	return run
}

// finish runs a child to the end of the flow.
func (r *crashRig) finish() childRun {
	r.t.Helper()
	run := r.run(nil)
	r.noTrouble(run)
	if run.err != nil {
		r.t.Fatalf("the last child failed: %v\n%s", run.err, r.output.String())
	}
	return run
}

// noTrouble fails the test for every warning or error a child logged: without injected
// faults, a step that fails after a restart (and is retried) is a step that is not idempotent.
func (r *crashRig) noTrouble(run childRun) {
	r.t.Helper()
	for _, line := range run.trouble {
		r.t.Errorf("the child logged: %s", line)
	}
	if len(run.trouble) > 0 {
		r.t.FailNow()
	}
}

// remote returns the ids of the installer's clusters and infra envs.
func (r *crashRig) remote() (clusters, infraEnvs []string) {
	r.t.Helper()
	cs, err := r.client.ListClusters(r.ctx, false)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, c := range cs {
		clusters = append(clusters, c.ID)
	}
	ies, err := r.client.ListInfraEnvs(r.ctx, "")
	if err != nil {
		r.t.Fatal(err)
	}
	for _, ie := range ies {
		infraEnvs = append(infraEnvs, ie.ID)
	}
	return clusters, infraEnvs
}

// savedState reads the flow's state from the state folder (no child holds it now).
func (r *crashRig) savedState() (flow.State, []flow.StepRecord) {
	r.t.Helper()
	st, err := store.Open(r.state)
	if err != nil {
		r.t.Fatal(err)
	}
	defer st.Close()
	var s flow.State
	var steps []flow.StepRecord
	if _, err := st.GetDoc("flow", "state", &s); err != nil {
		r.t.Fatal(err)
	}
	if _, err := st.GetDoc("flow", "steps", &steps); err != nil {
		r.t.Fatal(err)
	}
	return s, steps
}

// checkUnsaved checks that a kill left the installer with exactly one new object of a kind
// whose id the flow has not saved, and returns that id.
func (r *crashRig) checkUnsaved(kind string) string {
	r.t.Helper()
	clusters, envs := r.remote()
	s, _ := r.savedState()
	ids, saved := clusters, s.ClusterID
	if kind == "infra env" {
		ids, saved = envs, s.InfraEnvID
	}
	if len(ids) != 1 || saved != "" {
		r.t.Fatalf("after the kill: the installer has %s ids %v, the flow saved %q; want one, unsaved", kind, ids, saved)
	}
	return ids[0]
}

// checkInstalledOnce checks the end: every step done, one cluster (the one registered before
// a kill: adopted), one infra env (likewise), five hosts, installed, credentials written.
func (r *crashRig) checkInstalledOnce(cluster, infraEnv string) {
	r.t.Helper()
	if c, i, h := r.sim.Counts(); c != 1 || i != 1 || h != 5 {
		r.t.Errorf("simulator holds %d clusters, %d infra envs, %d hosts; want 1, 1, 5", c, i, h)
	}
	s, steps := r.savedState()
	if len(steps) != len(flow.StepNames) {
		r.t.Errorf("the store has %d step records; want %d", len(steps), len(flow.StepNames))
	}
	for _, rec := range steps {
		if rec.State != flow.StateDone {
			r.t.Errorf("step %s is %s", rec.Name, rec.State)
		}
	}
	if s.ClusterID != cluster || s.InfraEnvID != infraEnv {
		r.t.Errorf("the flow ends with cluster %q, infra env %q; want the ones registered before the kills, %q and %q",
			s.ClusterID, s.InfraEnvID, cluster, infraEnv)
	}
	c, err := r.client.GetCluster(r.ctx, s.ClusterID, false)
	if err != nil {
		r.t.Fatal(err)
	}
	if c.Status != "installed" || !strings.Contains(c.InstallConfigOverrides, "Contrail") {
		r.t.Errorf("cluster %s: status %s, install-config overrides %q", c.ID, c.Status, c.InstallConfigOverrides)
	}
	for _, name := range []string{"kubeconfig", "kubeadmin-password"} {
		info, err := os.Stat(filepath.Join(r.out, name))
		if err != nil || info.Mode().Perm() != 0o600 || info.Size() == 0 {
			r.t.Errorf("%s: %v %v", name, info, err)
		}
	}
}

// TestCrashSafety runs the appliance as a child process and SIGKILLs it on every step
// boundary, inside every step, and between the installer creating the cluster (or the infra
// env) and the flow saving its id; each time a new child resumes on the same state folder.
// Every install still ends installed, with one cluster, one infra env and five hosts, and the
// objects registered before the kills are the ones adopted.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts the appliance about 60 times: skipped under -short")
	}
	// The seed of the mid-step delays; CN2_FLOW_CRASH_SEED explores other kill points.
	seed := uint64(8)
	if v := os.Getenv("CN2_FLOW_CRASH_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("CN2_FLOW_CRASH_SEED: %v", err)
		}
		seed = n
	}
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	lab := exampleLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	const (
		longStep         = 100 * time.Millisecond
		registerCluster  = "POST /api/assisted-install/v2/clusters"
		registerInfraEnv = "POST /api/assisted-install/v2/infra-envs"
	)

	// A first install: killed once the flow has the new cluster's id but before it saved it,
	// then likewise for the infra env, then to the end; its uninterrupted steps give each
	// step's duration, from which the mid-step kills below pick their delays.
	first := newCrashRig(t, ctx, lab, exe)
	durations := map[string]time.Duration{}
	measure := func(run childRun) {
		for i, name := range flow.StepNames {
			if done, ok := run.timings[2*i+1]; ok {
				durations[name] = done - run.timings[2*i]
			}
		}
	}
	measure(first.mustKill(killPoint{msg: msgRegisteredCluster}))
	cluster := first.checkUnsaved("cluster")
	measure(first.mustKill(killPoint{msg: msgRegisteredInfraEnv}))
	infraEnv := first.checkUnsaved("infra env")
	kills := 2
	measure(first.finish())
	first.checkInstalledOnce(cluster, infraEnv)
	t.Logf("killed after the flow learned the new cluster's and infra env's ids, before saving them: adopted; steps took %v", durations)

	// The second install: killed inside the installer's registration of the cluster, before its
	// answer, then likewise for the infra env (each the first kill of its step: later kills
	// would let the object be registered and saved), then right after each step started,
	// inside it, and on its done line (logged before the runner saves it done).
	points := []killPoint{}
	for i, name := range flow.StepNames {
		switch name {
		case "ensure-cluster":
			points = append(points, killPoint{window: registerCluster})
		case "ensure-infra-env":
			points = append(points, killPoint{window: registerInfraEnv})
		}
		d := durations[name]
		if d <= 0 {
			d = time.Millisecond
		}
		points = append(points, killPoint{pos: 2 * i})
		// Long steps (waiting for hosts, watching the install) are killed inside thrice.
		for range 1 + 2*min(int(d/longStep), 1) {
			points = append(points, killPoint{pos: 2 * i, delay: time.Duration(rng.Float64() * float64(d))})
		}
		points = append(points, killPoint{pos: 2*i + 1})
	}
	rig := newCrashRig(t, ctx, lab, exe)
	landed := map[string]int{} // kinds of places
	for n, p := range points {
		run := rig.mustKill(p)
		kills++
		kind, _, _ := strings.Cut(run.landed, " ")
		if strings.Contains(run.landed, "ended within") {
			kind = "on (delayed)"
		}
		landed[kind]++
		t.Logf("kill %2d %-50s landed %s", n+1, p, run.landed)
		switch p.window {
		case registerCluster:
			cluster = rig.checkUnsaved("cluster")
		case registerInfraEnv:
			infraEnv = rig.checkUnsaved("infra env")
		}
	}
	rig.finish()
	rig.checkInstalledOnce(cluster, infraEnv)
	// A restart after the end changes nothing.
	rig.finish()
	rig.checkInstalledOnce(cluster, infraEnv)
	t.Logf("%d kills in all; the second install's %d: %d on a step boundary line, %d inside a step, %d on its done line after a delay that outlasted it, %d inside the installer's handler",
		kills, len(points), landed["on"], landed["inside"]-2, landed["on (delayed)"], 2)
}
