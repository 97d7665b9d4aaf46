package main

// The doctor against real peers in network namespaces (prefix cn2doc<pid>-): the jump host is
// the server namespace of pkg/dhcp/dhcptest's topology (srv-a 172.16.0.1 on the ctrl fabric,
// srv-b 10.16.0.1 on the data fabric), c1 is a host on the ctrl fabric running chronyd (the
// lab's NTP server, 172.16.0.250), c2 a host on the data fabric (10.16.0.250), and an "up"
// namespace behind the jump host's srv-up holds the site's forwarder: dnsmasq on 192.0.2.53
// answering every name locally (--address=/#/), never forwarding. The installer is the
// simulator over TLS (httptest), started on the server namespace's loopback by the doctor's
// own helper process, whose certificate the helper trusts through SSL_CERT_FILE as a lab
// would install its CA. Nothing leaves loopback and these namespaces.
//
// The doctor runs as this test binary re-executed inside the server namespace (TestDoctorHelper),
// so it sees the namespace's interfaces, sockets and fabrics as serve would.

import (
	"bufio"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/aisim"
	"github.com/cn2-appliance/cn2-appliance/pkg/dhcp/dhcptest"
	"github.com/cn2-appliance/cn2-appliance/pkg/doctor"
	mdns "github.com/miekg/dns"
)

const (
	helperEnv     = "CN2_DOCTOR_HELPER" // doctor | servfail
	helperArgsEnv = "CN2_DOCTOR_ARGS"   // doctor: the lab template; servfail: the address
)

// doctorTopo is the namespace lab.
type doctorTopo struct {
	tp  *dhcptest.Topology
	up  string // the forwarders' namespace
	dir string
}

func newDoctorTopo(t *testing.T) *doctorTopo {
	t.Helper()
	if why := dhcptest.CanRun("dnsmasq", "chronyd", "busybox", "dig"); why != "" {
		t.Skip("namespace test skipped: " + why)
	}
	tp, err := dhcptest.Up(fmt.Sprintf("cn2doc%d-", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	d := &doctorTopo{tp: tp, up: tp.Prefix + "up", dir: t.TempDir()}
	if err := os.Chmod(d.dir, 0o755); err != nil { // dnsmasq and chronyd write here
		t.Fatal(err)
	}
	t.Cleanup(func() {
		killNamespace(d.up)
		if err := tp.Down(); err != nil {
			t.Errorf("topology down: %v", err)
		}
	})
	for _, args := range [][]string{
		{"netns", "add", d.up},
		{"-n", d.up, "link", "set", "lo", "up"},
		{"link", "add", "srv-up", "netns", tp.Srv, "type", "veth", "peer", "name", "eth0", "netns", d.up},
		{"-n", tp.Srv, "addr", "add", "192.0.2.1/24", "dev", "srv-up"},
		{"-n", tp.Srv, "link", "set", "srv-up", "up"},
		{"-n", d.up, "addr", "add", "192.0.2.53/24", "dev", "eth0"},
		{"-n", d.up, "addr", "add", "192.0.2.54/24", "dev", "eth0"},
		{"-n", d.up, "link", "set", "eth0", "up"},
		{"-n", tp.C1, "addr", "add", "172.16.0.250/24", "dev", "eth0"},
		{"-n", tp.C2, "addr", "add", "10.16.0.250/24", "dev", "eth0"},
	} {
		if err := dhcptest.IP(args...); err != nil {
			t.Fatal(err)
		}
	}
	conf := filepath.Join(d.dir, "chrony.conf")
	writeFile(t, conf, fmt.Sprintf("bindaddress 172.16.0.250\nport 123\nlocal stratum 8\nallow all\ncmdport 0\npidfile %s/chronyd.pid\n", d.dir))
	d.start(t, tp.C1, "chronyd", "-d", "-x", "-u", "root", "-f", conf)
	d.start(t, d.up, "dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--no-poll",
		"--listen-address=192.0.2.53", "--bind-interfaces", "--port=53", "--cache-size=0", "--pid-file=", "--address=/#/192.0.2.80")
	d.waitDNS(t, "192.0.2.53", "NOERROR")
	return d
}

// killNamespace SIGKILLs every process in ns (by PID) and deletes it.
func killNamespace(ns string) {
	out, err := exec.Command("ip", "netns", "pids", ns).Output()
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(out)) {
		var pid int
		if _, err := fmt.Sscan(f, &pid); err == nil && pid > 1 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	_ = exec.Command("ip", "netns", "del", ns).Run()
}

// start runs a peer in ns until the test (or stop) ends it, by its PID.
func (d *doctorTopo) start(t *testing.T, ns, name string, args ...string) (stop func()) {
	t.Helper()
	cmd := d.tp.Cmd(ns, name, args...)
	logf, err := os.Create(filepath.Join(d.dir, fmt.Sprintf("%s-%d.log", name, time.Now().UnixNano())))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	stop = func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		logf.Close()
	}
	t.Cleanup(stop)
	return stop
}

// waitDNS waits (bounded) until the server at addr answers quay.io with rcode.
func (d *doctorTopo) waitDNS(t *testing.T, addr, rcode string) {
	t.Helper()
	for i := 0; ; i++ {
		out, _ := d.tp.Cmd(d.tp.Srv, "dig", "@"+addr, "quay.io", "+tries=1", "+time=1").CombinedOutput()
		if strings.Contains(string(out), "status: "+rcode) {
			return
		}
		if i == 50 {
			t.Fatalf("DNS server %s does not answer %s: %s", addr, rcode, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// labTemplate writes the example lab adapted to the topology; edit changes its text further.
// The installer's address is filled in by the helper (INSTALLER).
func (d *doctorTopo) labTemplate(t *testing.T, manifests map[string]string, edit func(string) string) string {
	t.Helper()
	raw, err := os.ReadFile(exampleLab)
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := filepath.Abs("../../configs/example-secrets")
	if err != nil {
		t.Fatal(err)
	}
	mdir, err := os.MkdirTemp(d.dir, "manifests-")
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range manifests {
		writeFile(t, filepath.Join(mdir, name), body)
	}
	lab := strings.NewReplacer(
		"example-secrets/", secrets+"/",
		"manifestsDir: example-manifests", "manifestsDir: "+mdir,
		"url: https://api.openshift.com", "url: https://INSTALLER\n  tokenURL: https://INSTALLER"+aisim.TokenPath,
		"interface: ens4", "interface: srv-a\n    mtu: 1500",
		"interface: ens5", "interface: srv-b",
		"  unknownClients: pool\n", "  unknownClients: pool\n  ntpServers: [172.16.0.250]\n",
	).Replace(string(raw))
	if edit != nil {
		lab = edit(lab)
	}
	path := filepath.Join(d.dir, fmt.Sprintf("lab-%d.yaml", time.Now().UnixNano()))
	writeFile(t, path, lab)
	return path
}

// cn2Manifests stand in for the CN2 release: images from Juniper's registry and quay.io, both
// in the example pull secret.
var cn2Manifests = map[string]string{
	"100-contrail-namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: contrail\n",
	"110-deployer.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: contrail-k8s-deployer, namespace: contrail-deploy}
spec:
  template:
    spec:
      initContainers:
        - name: crd-init
          image: quay.io/contrail/init:23.1
      containers:
        - name: deployer
          image: enterprise-hub.juniper.net/contrail-container-prod/contrail-k8s-deployer:23.1
`,
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// runDoctor runs `cn2-appliance doctor -c LAB -o FORMAT` inside the server namespace and
// returns its output and exit code.
func (d *doctorTopo) runDoctor(t *testing.T, labTemplate, format string) (string, int) {
	t.Helper()
	cmd := d.tp.Cmd(d.tp.Srv, os.Args[0], "-test.run=^TestDoctorHelper$")
	cmd.Env = append(os.Environ(), helperEnv+"=doctor", helperArgsEnv+"="+labTemplate+","+format)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	text, code, found := strings.Cut(string(out), "\nEXIT ")
	if !found {
		t.Fatalf("doctor helper: %v\n%s\n%s", err, out, stderr.String())
	}
	var n int
	fmt.Sscan(code, &n)
	return text, n
}

// report runs the doctor with -o json.
func (d *doctorTopo) report(t *testing.T, labTemplate string) (doctor.Report, int) {
	t.Helper()
	out, code := d.runDoctor(t, labTemplate, "json")
	var r doctor.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("doctor -o json: %v\n%s", err, out)
	}
	return r, code
}

// wantOnly checks that the report's errors all come from check, that one of them mentions
// every marker (target, message or fix), and that each error says what to do.
func wantOnly(t *testing.T, r doctor.Report, code int, check string, markers ...string) {
	t.Helper()
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	found := false
	for _, e := range r.Errors() {
		if e.Check != check {
			t.Errorf("unexpected error from %s: %+v", e.Check, e)
			continue
		}
		if e.Fix == "" {
			t.Errorf("error without a fix: %+v", e)
		}
		all := e.Target + " " + e.Message + " " + e.Fix
		hit := true
		for _, m := range markers {
			hit = hit && strings.Contains(all, m)
		}
		found = found || hit
	}
	if !found {
		t.Errorf("no %s error mentions %q; errors: %+v", check, markers, r.Errors())
	}
}

func TestDoctorNamespaces(t *testing.T) {
	d := newDoctorTopo(t)
	healthy := d.labTemplate(t, cn2Manifests, nil)

	t.Run("healthy", func(t *testing.T) {
		r, code := d.report(t, healthy)
		if code != 0 || r.Failed() {
			t.Fatalf("exit %d on the healthy lab; errors: %+v", code, r.Errors())
		}
		ran := r.CheckOK()
		for _, name := range doctor.Names() {
			if ok, seen := ran[name]; !seen || !ok {
				t.Errorf("check %s: seen %v ok %v", name, seen, ok)
			}
		}
		for _, res := range r.Results {
			if res.Status == doctor.StatusWarning && res.Target != "jump host clock" { // the test machine's clock may be unsynchronised
				t.Errorf("unexpected warning: %+v", res)
			}
			if res.Status == doctor.StatusSkipped && res.Check != "hardware" { // the CLI reads no BMC
				t.Errorf("skipped outside the rehearsal: %+v", res)
			}
		}
		table, code := d.runDoctor(t, healthy, "table")
		t.Logf("doctor on the healthy lab:\n%s", table)
		if code != 0 || !strings.Contains(table, "CHECK") || !strings.Contains(table, "0 error(s)") || !strings.Contains(table, "NTP 172.16.0.250") {
			t.Errorf("table (exit %d):\n%s", code, table)
		}
	})

	t.Run("API VIP in use", func(t *testing.T) {
		if err := dhcptest.IP("-n", d.tp.C1, "addr", "add", "172.16.0.100/24", "dev", "eth0"); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = dhcptest.IP("-n", d.tp.C1, "addr", "del", "172.16.0.100/24", "dev", "eth0") }()
		r, code := d.report(t, healthy)
		wantOnly(t, r, code, "address-conflicts", "172.16.0.100", "API VIP", macOf(t, d, d.tp.C1), "cluster.apiVIP")
	})

	t.Run("appliance address duplicated", func(t *testing.T) {
		if err := dhcptest.IP("-n", d.tp.C2, "addr", "add", "10.16.0.1/24", "dev", "eth0"); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = dhcptest.IP("-n", d.tp.C2, "addr", "del", "10.16.0.1/24", "dev", "eth0") }()
		r, code := d.report(t, healthy)
		wantOnly(t, r, code, "interfaces", "data (srv-b)", "10.16.0.1, the appliance's own address, is also held by "+macOf(t, d, d.tp.C2))
	})

	t.Run("rogue DHCP server", func(t *testing.T) {
		stop := d.start(t, d.tp.C2, "dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0", "--interface=eth0", "--bind-interfaces",
			"--dhcp-range=10.16.0.150,10.16.0.199,1h", "--no-ping", "--dhcp-leasefile="+filepath.Join(d.dir, "rogue.leases"), "--pid-file=")
		defer stop()
		r, code := d.report(t, healthy)
		wantOnly(t, r, code, "rogue-dhcp", "server id 10.16.0.250", "offered 10.16.0.1", "stop that DHCP server")
	})

	t.Run("forwarder answers SERVFAIL", func(t *testing.T) {
		stop := d.startHelper(t, d.up, "servfail", "192.0.2.54:53")
		defer stop()
		d.waitDNS(t, "192.0.2.54", "SERVFAIL")
		lab := d.labTemplate(t, cn2Manifests, func(s string) string {
			return strings.Replace(s, "forwarders: [192.0.2.53]", "forwarders: [192.0.2.53, 192.0.2.54]", 1)
		})
		r, code := d.report(t, lab)
		wantOnly(t, r, code, "forwarders", "forwarder 192.0.2.54:53", "quay.io: SERVFAIL", "enterprise-hub.juniper.net: SERVFAIL", "dns.forwarders")
		for _, res := range r.Results {
			if res.Target == "forwarder 192.0.2.53:53" && res.Status != doctor.StatusOK {
				t.Errorf("the good forwarder: %+v", res)
			}
		}
	})

	t.Run("wrong MTU", func(t *testing.T) {
		if err := dhcptest.IP("-n", d.tp.Srv, "link", "set", "srv-a", "mtu", "1400"); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = dhcptest.IP("-n", d.tp.Srv, "link", "set", "srv-a", "mtu", "1500") }()
		r, code := d.report(t, healthy)
		wantOnly(t, r, code, "interfaces", "ctrl (srv-a)", "MTU 1400, the lab says 1500", "ip link set srv-a mtu 1500")
	})

	t.Run("registry missing from the pull secret", func(t *testing.T) {
		manifests := map[string]string{"120-vrouter.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: probe}\nspec:\n  containers:\n    - name: x\n      image: registry.example.test:5000/cn2/vrouter:23.1\n"}
		for k, v := range cn2Manifests {
			manifests[k] = v
		}
		r, code := d.report(t, d.labTemplate(t, manifests, nil))
		wantOnly(t, r, code, "pull-secret", "registry.example.test:5000", "add an auths entry")
	})

	t.Run("port taken", func(t *testing.T) {
		stop := d.start(t, d.tp.Srv, "busybox", "httpd", "-f", "-p", "172.16.0.1:8080", "-h", d.dir)
		defer stop()
		waitListening(t, d, 8080)
		r, code := d.report(t, healthy)
		wantOnly(t, r, code, "ports", "tcp 172.16.0.1:8080", "HTTP", "busybox (pid ", "boot.httpPort")
	})
}

// macOf is the MAC of eth0 in namespace ns.
func macOf(t *testing.T, d *doctorTopo, ns string) string {
	t.Helper()
	out, err := exec.Command("ip", "-n", ns, "-br", "link", "show", "eth0").Output()
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(out))
	if len(f) < 3 {
		t.Fatalf("ip -br link: %s", out)
	}
	return f[2]
}

// waitListening waits (bounded) until a TCP socket listens on 172.16.0.1:port in the server
// namespace (from its /proc/net/tcp: address 010010AC, state 0A).
func waitListening(t *testing.T, d *doctorTopo, port uint16) {
	t.Helper()
	want := fmt.Sprintf("010010AC:%04X 00000000:0000 0A", port)
	for i := 0; i < 50; i++ {
		if out, err := d.tp.Cmd(d.tp.Srv, "cat", "/proc/net/tcp").Output(); err == nil && strings.Contains(string(out), want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("nothing listens on 172.16.0.1:%d", port)
}

// startHelper runs this test binary as a helper (mode) in namespace ns until stopped.
func (d *doctorTopo) startHelper(t *testing.T, ns, mode, args string) (stop func()) {
	t.Helper()
	cmd := d.tp.Cmd(ns, os.Args[0], "-test.run=^TestDoctorHelper$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, helperArgsEnv+"="+args)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop = func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}
	t.Cleanup(stop)
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if sc.Text() == "READY" {
			go func() {
				for sc.Scan() {
				}
			}()
			return stop
		}
	}
	t.Fatalf("helper %s did not start", mode)
	return stop
}

// TestDoctorHelper is not a test: it is the process the namespace tests run inside a
// namespace (helperEnv says as what).
func TestDoctorHelper(t *testing.T) {
	switch os.Getenv(helperEnv) {
	case "doctor":
		template, format, _ := strings.Cut(os.Getenv(helperArgsEnv), ",")
		out, code := doctorHelper(t, template, format)
		fmt.Printf("%s\nEXIT %d\n", out, code)
	case "servfail":
		servfailHelper(t, os.Getenv(helperArgsEnv))
	default:
		t.Skip("helper process for TestDoctorNamespaces")
	}
}

// doctorHelper serves the installer simulator over TLS on this namespace's loopback, trusts
// its certificate as the system's, writes the lab with its address and runs the doctor.
func doctorHelper(t *testing.T, template, format string) (string, int) {
	token, err := os.ReadFile("../../configs/example-secrets/offline-token")
	if err != nil {
		t.Fatal(err)
	}
	sim, err := aisim.New(aisim.Options{Auth: &aisim.Auth{OfflineTokens: []string{strings.TrimSpace(string(token))}}})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	srv := httptest.NewTLSServer(sim)
	defer srv.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "installer-ca.pem")
	writeFile(t, ca, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))
	t.Setenv("SSL_CERT_FILE", ca) // read once, at the process's first TLS handshake
	raw, err := os.ReadFile(template)
	if err != nil {
		t.Fatal(err)
	}
	lab := filepath.Join(dir, "lab.yaml")
	writeFile(t, lab, strings.ReplaceAll(string(raw), "https://INSTALLER", srv.URL))
	out, errOut, code := run(t, "doctor", "-c", lab, "-o", format)
	os.Stderr.WriteString(errOut)
	return out, code
}

// servfailHelper is a forwarder whose upstream is broken: it answers every query SERVFAIL.
func servfailHelper(t *testing.T, addr string) {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(func(w mdns.ResponseWriter, q *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetRcode(q, mdns.RcodeServerFailure)
		m.RecursionAvailable = true
		_ = w.WriteMsg(m)
	}), NotifyStartedFunc: func() { fmt.Println("READY") }}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() { <-ctx.Done(); _ = srv.Shutdown() }()
	if err := srv.ActivateAndServe(); err != nil {
		t.Fatal(err)
	}
}
