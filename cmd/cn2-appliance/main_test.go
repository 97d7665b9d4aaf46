package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const exampleLab = "../../configs/lab.example.yaml"

func TestMain(m *testing.M) {
	if os.Getenv("CN2_APPLIANCE_TEST_RUN_MAIN") == "1" { // the test binary as the command (completion_test.go)
		main()
		os.Exit(0)
	}
	if os.Getenv("CN2_APPLIANCE_TEST_JOURNAL_LOG") == "1" { // a logging process for journald_test.go
		logToJournal()
		os.Exit(0)
	}
	// git checks the example secrets out world-readable; keep warnings out of the way.
	files, _ := filepath.Glob("../../configs/example-secrets/*")
	for _, f := range files {
		_ = os.Chmod(f, 0o600)
	}
	os.Exit(m.Run())
}

func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := newRootCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.Execute()
	var ee exitError
	switch {
	case errors.As(err, &ee):
		code = ee.code
	case err != nil:
		errOut.WriteString(err.Error())
		code = 1
	}
	return out.String(), errOut.String(), code
}

func TestValidate(t *testing.T) {
	out, errOut, code := run(t, "validate", "-c", exampleLab)
	if code != 0 || !strings.Contains(out, "ok (5 nodes on 2 networks, zone mycluster.contrail.lan)") {
		t.Fatalf("validate example: code %d\n%s%s", code, out, errOut)
	}
	_, errOut, code = run(t, "validate", "-c", "../../pkg/config/testdata/invalid/macs.yaml")
	if code != 1 || !strings.Contains(errOut, "macs.yaml:37:31: nodes[1].nics[0].mac: ") || !strings.Contains(errOut, "3 error(s)") {
		t.Fatalf("validate broken lab: code %d\n%s", code, errOut)
	}
}

// TestPlanHasNoSecrets checks that plan shows the model and none of the secrets' contents.
func TestPlanHasNoSecrets(t *testing.T) {
	secrets := map[string]string{}
	for _, f := range []string{"pull-secret.json", "offline-token", "bmc-password", "ipmi-password"} {
		b, err := os.ReadFile(filepath.Join("../../configs/example-secrets", f))
		if err != nil {
			t.Fatal(err)
		}
		secrets[f] = strings.TrimSpace(string(b))
	}
	// Pieces of the pull secret too: its auth tokens must not appear even re-encoded.
	secrets["pull-secret auth"] = "ZmFrZS11c2VyOkZBS0UtRVhBTVBMRS1OT1QtQS1SRUFMLVNFQ1JFVA=="

	for _, format := range []string{"json", "text"} {
		out, errOut, code := run(t, "plan", "-c", exampleLab, "-o", format)
		if code != 0 {
			t.Fatalf("plan -o %s: code %d: %s", format, code, errOut)
		}
		for name, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("plan -o %s shows the content of %s", format, name)
			}
		}
		if format != "json" {
			continue
		}
		var p struct {
			Lab struct {
				Cluster struct{ Name string }
			}
			Reservations  map[string][]struct{ MAC, IP string } `json:"dhcpReservations"`
			DNSZones      []struct{ Origin string }             `json:"dnsZones"`
			ExpectedHosts []struct{ Name, Role string }         `json:"expectedHosts"`
			InstallSteps  []string                              `json:"installSteps"`
		}
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			t.Fatalf("plan -o json is not JSON: %v", err)
		}
		if p.Lab.Cluster.Name != "mycluster" || len(p.Reservations["data"]) != 5 || len(p.DNSZones) != 3 ||
			len(p.ExpectedHosts) != 5 || p.InstallSteps[0] != "preflight" {
			t.Errorf("plan model incomplete: %+v", p)
		}
		if r := p.Reservations["data"][4]; r.MAC != "52:54:00:00:01:15" || r.IP != "10.16.0.15" {
			t.Errorf("worker-1 data reservation = %+v", r)
		}
	}
}

func TestBadFlags(t *testing.T) {
	if _, _, code := run(t, "plan", "-c", exampleLab, "-o", "yaml"); code == 0 {
		t.Error("plan -o yaml accepted")
	}
	if _, _, code := run(t, "serve", "-c", exampleLab, "--log-format", "xml"); code == 0 {
		t.Error("--log-format xml accepted")
	}
}
