package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/flow"
	"github.com/cn2-appliance/cn2-appliance/pkg/status"
)

// TestStatusPageInChromium watches a rehearsal's status page the way a lab engineer does, in
// a real browser (Debian's chromium, headless). Every rendered DOM must show the five nodes of
// the example lab with their MACs and (loopback) IPs, every step of the flow in order with its
// state, and the cluster's progress bar, with nothing on the browser's console (a style the
// Content-Security-Policy blocks, an asset that fails to load). As the install runs, the
// progress must rise above 0 and the node rows must show the installer's host status and
// stage; states never go backwards. A screenshot of the page mid-install is kept
// ($CN2_TEST_ARTIFACTS when set).
func TestStatusPageInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("the rehearsal runs for about a minute")
	}
	b := newBrowser(t)
	// 0.05: about a minute of install, long enough for several page loads on a busy machine.
	r := startRehearsal(t, 0.05)
	lab := r.lab

	seen := 0
	var prev, mid *pageView
	check := func(v *pageView) {
		t.Helper()
		seen++
		checkPage(t, lab, v)
		if prev != nil {
			checkProgressed(t, prev, v)
		}
		prev = v
	}

	// Until the install shows progress, a host status and a stage.
	for range 200 {
		v, err := r.page(t, b)
		if err != nil {
			t.Fatalf("the rehearsal ended before the page showed an install in progress (%d pages seen): %v\n%s", seen, err, r.out.String())
		}
		check(v)
		if v.progress > 0 && v.hostWithStage() != "" {
			mid = v
			break
		}
	}
	if mid == nil {
		t.Fatalf("after %d page loads the page still shows no progress with a host stage (last: %d%%, cluster %q)", seen, prev.progress, prev.cluster)
	}
	t.Logf("mid-install page: cluster %q at %d%%, %s", mid.cluster, mid.progress, mid.hostWithStage())

	// Keep the picture of it.
	dir := os.Getenv("CN2_TEST_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "statuspage.png")
	if err := b.screenshot(r.url, shot); err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	png, err := os.ReadFile(shot)
	if err != nil || len(png) < 10_000 || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("screenshot %s is not a page-sized PNG (%d bytes, %v)", shot, len(png), err)
	}
	t.Logf("screenshot of the status page mid-install: %s", shot)
	if err := os.WriteFile(filepath.Join(dir, "statuspage.html"), []byte(mid.dom), 0o644); err != nil {
		t.Fatal(err)
	}

	// Then follow it until the page shows the cluster installed (the rehearsal holds the page
	// up after the install), and end the rehearsal.
	last := mid
	for range 300 {
		v, err := r.page(t, b)
		if err != nil {
			t.Fatalf("the page went away before it showed the cluster installed: %v\n%s", err, r.out.String())
		}
		check(v)
		last = v
		if v.progress == 100 && strings.HasPrefix(v.cluster, "installed") && allStepsDone(v) {
			break
		}
	}
	if last.progress != 100 || !strings.HasPrefix(last.cluster, "installed") || !allStepsDone(last) {
		t.Fatalf("the page never showed the cluster installed: last %q at %d%%", last.cluster, last.progress)
	}
	for _, n := range last.nodes {
		if n.hostStatus != "installed" || n.stage != "Done" || n.power != "on" || n.boot != "disk" {
			t.Errorf("installed page, node %s: host %q stage %q power %q boot %q; want installed, Done, on, disk",
				n.name, n.hostStatus, n.stage, n.power, n.boot)
		}
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	if err := r.wait(); err != nil {
		t.Fatalf("rehearse: %v\n%s", err, r.out.String())
	}
	if !strings.Contains(r.out.String(), "rehearsal: installed in") {
		t.Errorf("the rehearsal did not end installed:\n%s", r.out.String())
	}
	t.Logf("%d pages rendered; the last showed cluster %q at %d%%", seen, last.cluster, last.progress)
}

// pageView is what a rendered status page shows, read from its DOM.
type pageView struct {
	dom      string
	cluster  string // the cluster's status line
	progress int    // data-percent of #cluster-progress
	steps    []stepView
	nodes    []nodeView
}

type stepView struct{ name, state, text string }

type nodeView struct{ name, hostStatus, stage, power, boot, text string }

func (v *pageView) hostWithStage() string {
	for _, n := range v.nodes {
		if n.hostStatus != "" && n.stage != "" {
			return fmt.Sprintf("%s %s/%s", n.name, n.hostStatus, n.stage)
		}
	}
	return ""
}

var errNotStatusPage = errors.New("not the status page")

// parsePage reads a status page from a DOM dump; errNotStatusPage when it is something else
// (chromium's error page once the rehearsal stopped serving).
func parsePage(dom string) (*pageView, error) {
	root, err := html.Parse(strings.NewReader(dom))
	if err != nil {
		return nil, err
	}
	v := &pageView{dom: dom, progress: -1}
	found := false
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch {
			case attr(n, "id") == "cluster-status":
				v.cluster = text(n)
			case attr(n, "id") == "cluster-progress":
				found = true
				if p, err := strconv.Atoi(attr(n, "data-percent")); err == nil {
					v.progress = p
				}
			case n.Data == "tr" && hasAttr(n, "data-step"):
				v.steps = append(v.steps, stepView{attr(n, "data-step"), attr(n, "data-state"), text(n)})
			case n.Data == "tr" && hasAttr(n, "data-node"):
				v.nodes = append(v.nodes, nodeView{attr(n, "data-node"), attr(n, "data-host-status"), attr(n, "data-stage"),
					attr(n, "data-power"), attr(n, "data-boot"), text(n)})
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	if !found {
		return nil, errNotStatusPage
	}
	return v, nil
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *html.Node, key string) bool {
	return slices.ContainsFunc(n.Attr, func(a html.Attribute) bool { return a.Key == key })
}

// text is an element's text with white space collapsed.
func text(n *html.Node) string {
	var b strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
			b.WriteByte(' ')
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

// checkPage asserts what every rendering of the page must show.
func checkPage(t *testing.T, lab *config.Lab, v *pageView) {
	t.Helper()
	if v.progress < 0 || v.progress > 100 {
		t.Errorf("#cluster-progress data-percent is not a percentage in %q", v.dom)
	}
	// Every step of the flow, in order, each in a known state.
	var names []string
	for _, s := range v.steps {
		names = append(names, s.name)
		switch s.state {
		case "pending", "running", "done":
		case "failed":
			t.Errorf("step %s failed: %s", s.name, s.text)
		default:
			t.Errorf("step %s has state %q", s.name, s.state)
		}
	}
	if !slices.Equal(names, flow.StepNames) {
		t.Errorf("step table shows %v, want %v", names, flow.StepNames)
	}
	// Every node of the lab, in the lab's order, with its role, MACs and IPs: the lab file's
	// addresses, although the rehearsal serves them on loopback (the page notes the mapping).
	var nodes []string
	for _, n := range v.nodes {
		nodes = append(nodes, n.name)
	}
	var want []string
	for _, n := range lab.Nodes {
		want = append(want, n.Name)
	}
	if !slices.Equal(nodes, want) {
		t.Fatalf("node rows %v, want %v", nodes, want)
	}
	if n := strings.Count(v.dom, `id="address-note"`); n != 1 || !strings.Contains(v.dom, "127.1.0.0/24") {
		t.Errorf("the page notes the loopback mapping %d times (want once, naming 127.1.0.0/24)", n)
	}
	for i, n := range lab.Nodes {
		row := v.nodes[i]
		if !strings.Contains(row.text, n.Role) {
			t.Errorf("row %s lacks its role %s: %q", n.Name, n.Role, row.text)
		}
		if n.DPDK && !strings.Contains(row.text, "DPDK") {
			t.Errorf("row %s does not say DPDK: %q", n.Name, row.text)
		}
		if !strings.Contains(row.text, n.BMC.Driver) {
			t.Errorf("row %s lacks its BMC driver %s: %q", n.Name, n.BMC.Driver, row.text)
		}
		for _, nic := range n.NICs {
			if want := fmt.Sprintf("%s %s %s", nic.Network, nic.MAC, nic.IP); !strings.Contains(row.text, want) {
				t.Errorf("row %s lacks %q: %q", n.Name, want, row.text)
			}
		}
	}
	for _, secret := range []string{"FAKE-EXAMPLE-OFFLINE-TOKEN", "ZmFrZS11c2VyOkZBS0UtRVhBTVBMRS1OT1QtQS1SRUFMLVNFQ1JFVA=="} {
		if strings.Contains(v.dom, secret) {
			t.Errorf("the page shows a secret (%s...)", secret[:10])
		}
	}
}

// checkProgressed asserts that nothing went backwards between two renderings.
func checkProgressed(t *testing.T, prev, v *pageView) {
	t.Helper()
	if v.progress < prev.progress {
		t.Errorf("progress went back from %d%% to %d%%", prev.progress, v.progress)
	}
	rank := map[string]int{"pending": 0, "running": 1, "done": 2}
	for i := range min(len(prev.steps), len(v.steps)) {
		if p, s := prev.steps[i], v.steps[i]; rank[s.state] < rank[p.state] {
			t.Errorf("step %s went back from %s to %s", s.name, p.state, s.state)
		}
	}
}

// browser runs Debian's chromium headless, one process per page load, with the flags of
// TESTING.md and a profile folder of its own.
type browser struct {
	path, profile string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("needs Debian's chromium on PATH (apt-get install chromium; scripts/install-test-deps.sh installs it)")
	}
	profile, err := os.MkdirTemp("", "cn2-e2e-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(profile) })
	return &browser{path: path, profile: profile}
}

// run starts chromium in a process group of its own and kills that group when it is done,
// so no renderer or helper outlives the call.
func (b *browser) run(args ...string) (stdout, stderr []byte, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a bound, not an assertion
	defer cancel()
	cmd := exec.CommandContext(ctx, b.path, append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--hide-scrollbars", "--user-data-dir=" + b.profile,
	}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("chromium %s: %v\n%s", strings.Join(args, " "), err, tail(errOut.String(), 2000))
	}
	return out.Bytes(), errOut.Bytes(), nil
}

// consoleLine is a message of the page's console in chromium's log: the page has no
// scripts, so these are resources that failed to load or styles the Content-Security-Policy
// blocked.
var consoleLine = regexp.MustCompile(`(?m)^.*:CONSOLE[:(].*$`)

// dumpDOM loads url and returns the DOM after the load, and the page's console messages.
func (b *browser) dumpDOM(url string) (dom string, console []string, err error) {
	out, log, err := b.run("--enable-logging=stderr", "--v=0", "--dump-dom", url)
	return string(out), consoleLine.FindAllString(string(log), -1), err
}

func (b *browser) screenshot(url, file string) error {
	_, _, err := b.run("--screenshot="+file, "--window-size=1400,1800", url)
	return err
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// rehearsalRun is a `cn2-appliance rehearse` of the example lab, its status page on a fixed
// loopback address.
type rehearsalRun struct {
	lab  *config.Lab
	url  string // the status page
	out  *syncBuffer
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// startRehearsal starts the rehearsal and returns once its status page serves; the process
// is killed when the test ends.
func startRehearsal(t *testing.T, timeScale float64) *rehearsalRun {
	t.Helper()
	bin := binary(t)
	dir := t.TempDir()
	copyTree(t, "../../configs", dir)
	lab, err := config.Load(filepath.Join(dir, "lab.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	addr := freeLoopbackAddr(t)
	r := &rehearsalRun{lab: lab, url: "http://" + addr + "/", out: &syncBuffer{}, done: make(chan struct{})}
	r.cmd = exec.Command(bin, "rehearse", "-c", filepath.Join(dir, "lab.example.yaml"),
		"--time-scale", strconv.FormatFloat(timeScale, 'f', -1, 64), "--status-listen", addr, "--log-level", "warn",
		"--keep-state", "--state-dir", filepath.Join(dir, "state"), // removed with dir, however it ends
		"--hold", "10m") // the page stays up after the install; the test ends it with SIGTERM
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.err = r.cmd.Wait(); close(r.done) }()
	t.Cleanup(func() { // SIGTERM shuts it down cleanly; SIGKILL if it does not
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			_ = r.cmd.Process.Kill()
			<-r.done
		}
	})
	for range 600 {
		if strings.Contains(r.out.String(), "rehearsal: status page "+r.url+"\n") {
			return r
		}
		select {
		case <-r.done:
			t.Fatalf("rehearse ended before serving its status page: %v\n%s", r.err, r.out.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("rehearse did not announce its status page at %s:\n%s", r.url, r.out.String())
	return nil
}

// page renders the status page in the browser; an error once the rehearsal has stopped
// serving it.
func (r *rehearsalRun) page(t *testing.T, b *browser) (*pageView, error) {
	t.Helper()
	dom, console, err := b.dumpDOM(r.url)
	if err != nil {
		t.Fatal(err)
	}
	v, err := parsePage(dom)
	if err == nil && len(console) > 0 {
		t.Errorf("the page logged to the browser's console (blocked styles or missing assets):\n%s", strings.Join(console, "\n"))
	}
	if errors.Is(err, errNotStatusPage) {
		// The rehearsal stops serving the page a moment before it exits.
		select {
		case <-r.done:
			return nil, fmt.Errorf("the rehearsal has ended")
		case <-time.After(time.Minute): // a bound, not an assertion
		}
	}
	if err != nil {
		t.Fatalf("%v while the rehearsal runs:\n%s", err, tail(dom, 2000))
	}
	return v, nil
}

// snapshot reads the JSON API.
func (r *rehearsalRun) snapshot() (*status.Snapshot, error) {
	resp, err := http.Get(r.url + "api/v1/status")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var s status.Snapshot
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return nil, err
	}
	return &s, nil
}

func (r *rehearsalRun) exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// wait waits for the rehearsal to end by itself.
func (r *rehearsalRun) wait() error {
	select {
	case <-r.done:
		return r.err
	case <-time.After(5 * time.Minute): // a bound, not an assertion
		return errors.New("still running after 5 minutes")
	}
}

// freeLoopbackAddr returns 127.0.0.1 with a port free a moment ago.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func allStepsDone(v *pageView) bool {
	for _, s := range v.steps {
		if s.state != "done" {
			return false
		}
	}
	return len(v.steps) > 0
}
