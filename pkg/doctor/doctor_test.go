package doctor

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/testlab"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
)

func TestRegistryKey(t *testing.T) {
	for in, want := range map[string]string{"https://quay.io/v1/": "quay.io", "Quay.io/org": "quay.io", "registry.redhat.io": "registry.redhat.io"} {
		if got := registryKey(in); got != want {
			t.Errorf("registryKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestManifestRegistries(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"a.yaml": "kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n        - image: enterprise-hub.juniper.net/c/deployer:23\n      initContainers:\n        - image: busybox\n---\nkind: Contrail\nspec:\n  common:\n    initImage: quay.io/x/init:1\n    image: \"{{ .Values.image }}\"\n",
		"b.json": `{"kind":"Pod","spec":{"containers":[{"image":"registry.redhat.io/ubi9/ubi"}]}}`,
		"c.yaml": "kind: ConfigMap\ndata:\n  image: not an image reference\n",
	}
	lab := &config.Lab{}
	lab.Cluster.ManifestsDir = dir
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		lab.Cluster.Manifests = append(lab.Cluster.Manifests, name)
	}
	got, err := manifestRegistries(lab)
	want := []string{"docker.io", "enterprise-hub.juniper.net", "quay.io", "registry.redhat.io"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("manifestRegistries = %v, %v; want %v", got, err, want)
	}
}

func TestPullSecretCheck(t *testing.T) {
	lab := testlab.Example(t) // the example pull secret must pass: it is what the README starts from
	if rs := checkPullSecret(context.Background(), &Env{Lab: lab}); len(rs) != 1 || rs[0].Status != StatusOK {
		t.Errorf("the example pull secret: %+v", rs)
	}
	secret := `{"auths":{"cloud.openshift.com":{"auth":"dXNlcjpwYXNz"},"https://quay.io":{"auth":"Zm9v"}}}`
	lab.Cluster.PullSecret = config.NewSecret([]byte(secret))
	rs := checkPullSecret(context.Background(), &Env{Lab: lab})
	var msgs []string
	for _, r := range rs {
		if r.Status != StatusError || r.Fix == "" {
			t.Errorf("result %+v", r)
		}
		if strings.Contains(r.Message+r.Fix, "Zm9v") || strings.Contains(r.Message+r.Fix, "dXNlcjpwYXNz") {
			t.Errorf("a result carries an auth value: %+v", r)
		}
		msgs = append(msgs, r.Target+": "+r.Message)
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{"https://quay.io does not decode to user:password", "no entry for registry.redhat.io"} {
		if !strings.Contains(all, want) {
			t.Errorf("results lack %q:\n%s", want, all)
		}
	}
}

func TestParseProcAddr(t *testing.T) {
	for in, want := range map[string]netip.AddrPort{
		"0100007F:0035":                         netip.MustParseAddrPort("127.0.0.1:53"),
		"010010AC:1F90":                         netip.MustParseAddrPort("172.16.0.1:8080"),
		"00000000:0043":                         netip.MustParseAddrPort("0.0.0.0:67"),
		"00000000000000000000000000000000:0035": netip.MustParseAddrPort("[::]:53"),
		"0000000000000000FFFF00000100007F:0035": netip.MustParseAddrPort("[::ffff:127.0.0.1]:53"),
	} {
		a, p, err := parseProcAddr(in)
		if err != nil || netip.AddrPortFrom(a, p) != want {
			t.Errorf("parseProcAddr(%q) = %v:%d %v, want %v", in, a, p, err, want)
		}
	}
	for _, bad := range []string{"", "0100007F", "0100007F:zz", "01007F:0035", "0100007G:0035"} {
		if _, _, err := parseProcAddr(bad); err == nil {
			t.Errorf("parseProcAddr(%q) accepted", bad)
		}
	}
}

func FuzzParseProcAddr(f *testing.F) {
	f.Add("0100007F:0035")
	f.Add("0000000000000000FFFF00000100007F:0035")
	f.Fuzz(func(t *testing.T, s string) {
		a, _, err := parseProcAddr(s)
		if err == nil && !a.IsValid() {
			t.Errorf("%q: no error and no address", s)
		}
	})
}

func FuzzManifestImages(f *testing.F) {
	f.Add("spec:\n  containers:\n    - image: quay.io/x:1\n")
	f.Fuzz(func(t *testing.T, body string) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "m.yaml"), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		lab := &config.Lab{}
		lab.Cluster.ManifestsDir, lab.Cluster.Manifests = dir, []string{"m.yaml"}
		regs, err := manifestRegistries(lab)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range regs {
			if r == "" || strings.Contains(r, "/") {
				t.Errorf("registry %q", r)
			}
		}
	})
}

// TestPortsCheck: a socket of this process on the appliance's DNS port is its own; the same
// port held by another process (a real dnsmasq on loopback) is taken, named by its process.
func TestPortsCheck(t *testing.T) {
	lab := testlab.Example(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	lab.DNS.Port = port
	env := &Env{Lab: lab}
	if rs := checkPorts(context.Background(), env); len(rs) != 1 || rs[0].Status != StatusOK {
		t.Fatalf("own socket reported: %+v", rs)
	}
	l.Close()
	if _, err := exec.LookPath("dnsmasq"); err != nil {
		t.Skip("dnsmasq not installed (scripts/install-test-deps.sh installs it)")
	}
	cmd := exec.Command("dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--listen-address=127.0.0.1",
		"--bind-interfaces", "--port="+strings.TrimPrefix(l.Addr().String(), "127.0.0.1:"), "--pid-file=", "--user=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	for i := 0; ; i++ {
		rs := checkPorts(context.Background(), env)
		if len(rs) > 0 && rs[0].Status == StatusError {
			if !strings.Contains(rs[0].Message, "dnsmasq (pid ") || !strings.Contains(rs[0].Target, "127.0.0.1") || !strings.Contains(rs[0].Fix, "dns.port") {
				t.Errorf("taken port: %+v", rs)
			}
			return
		}
		if i == 50 {
			t.Fatalf("dnsmasq's socket not seen: %+v\n%s", rs, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRunSkipsAndOrders: skipped checks are reported as such, results keep the checks' order,
// and the report's error names the failed check, target and fix.
func TestRunSkipsAndOrders(t *testing.T) {
	lab := testlab.Example(t)
	lab.Cluster.PullSecret = config.NewSecret([]byte(`{"auths":{}}`))
	var skip []string
	for _, n := range Names() {
		if n != "pull-secret" {
			skip = append(skip, n)
		}
	}
	r := Run(context.Background(), Env{Lab: lab}, skip)
	if len(r.Results) < len(Names()) {
		t.Fatalf("results %+v", r.Results)
	}
	var order []string
	for _, res := range r.Results {
		if len(order) == 0 || order[len(order)-1] != res.Check {
			order = append(order, res.Check)
		}
		if res.Check != "pull-secret" && res.Status != StatusSkipped {
			t.Errorf("not skipped: %+v", res)
		}
	}
	if !slices.Equal(order, Names()) {
		t.Errorf("order %v, want %v", order, Names())
	}
	err := r.Err()
	if !r.Failed() || err == nil || !strings.Contains(err.Error(), "pull-secret pull secret cloud.openshift.com: no entry") || !strings.Contains(err.Error(), "fix: ") {
		t.Errorf("Err = %v", err)
	}
	ok := r.CheckOK()
	if ok["pull-secret"] || !ok["dns"] {
		t.Errorf("CheckOK = %v", ok)
	}
	var table bytes.Buffer
	if err := r.WriteTable(&table); err != nil || !strings.Contains(table.String(), "fix the errors above") {
		t.Errorf("table:\n%s", table.String())
	}
	if err := ValidateSkip([]string{"dns", "nope"}); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("ValidateSkip = %v", err)
	}
}
