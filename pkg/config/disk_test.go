package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// problemsOf loads a lab and returns its errors and warnings as text, one per line.
func problemsOf(t *testing.T, path string) (errs, warns string) {
	t.Helper()
	lab, err := Load(path)
	var e *Error
	switch {
	case errors.As(err, &e):
		for _, p := range e.Problems {
			errs += p.String() + "\n"
		}
	case err != nil:
		t.Fatal(err)
	default:
		for _, w := range lab.Warnings {
			warns += w.String() + "\n"
		}
	}
	return errs, warns
}

const masterZero = "bmc: { driver: redfish, address: \"https://127.0.0.1:8443\", username: admin, passwordFile: ../secrets/password }\n  - name: master-1"

func TestInstallDisk(t *testing.T) {
	for _, tt := range []struct {
		name, disk, wantErr string
	}{
		{"by-path", "{ byPath: /dev/disk/by-path/pci-0000:00:05.0-scsi-0:0:0:0 }", ""},
		{"by-id", "{ byID: /dev/disk/by-id/wwn-0x5000c500a1b2c3d4 }", ""},
		{"serial", "{ serial: S3Z9NB0K123456 }", ""},
		{"smallest", "{ rule: smallest, minSizeGB: 120 }", ""},
		{"largest", "{ rule: largest }", ""},
		{"empty", "{}", "installDisk: name the disk by one of byPath"},
		{"two ways", "{ byPath: /dev/disk/by-path/x, serial: S1 }", "installDisk: give one of byPath, serial, not 2"},
		{"not by-path", "{ byPath: /dev/sda }", `installDisk.byPath: "/dev/sda" is not a by-path name`},
		{"not by-id", "{ byID: /dev/disk/by-path/x }", `installDisk.byID: "/dev/disk/by-path/x" is not a by-id name`},
		{"bad rule", "{ rule: fastest }", `installDisk.rule: "fastest" is not valid; want one of: smallest, largest`},
		{"size without rule", "{ serial: S1, minSizeGB: 100 }", "installDisk.minSizeGB: only a rule"},
		{"negative size", "{ rule: smallest, minSizeGB: -1 }", "installDisk.minSizeGB: -1 is out of range"},
		{"a scalar", "/dev/sda", "installDisk: want a mapping of keys"},
		{"unknown key", "{ path: /dev/sda }", `installDisk.path: unknown key "path"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := writeLab(t, [2]string{masterZero, strings.Replace(masterZero, "\n", "\n    installDisk: "+tt.disk+"\n    wipeDisks: true\n", 1)})
			errs, _ := problemsOf(t, path)
			if tt.wantErr == "" && errs != "" {
				t.Fatalf("errors:\n%s", errs)
			}
			if !strings.Contains(errs, tt.wantErr) {
				t.Fatalf("errors:\n%swant %q", errs, tt.wantErr)
			}
			if tt.wantErr != "" && !strings.Contains(errs, ":33:") && !strings.Contains(errs, ":34:") {
				t.Errorf("error not at the installDisk line (33/34):\n%s", errs)
			}
		})
	}
	lab, err := Load(writeLab(t, [2]string{masterZero, strings.Replace(masterZero, "\n", "\n    installDisk: { rule: largest, minSizeGB: 200 }\n    wipeDisks: true\n", 1)}))
	if err != nil {
		t.Fatal(err)
	}
	if d := lab.Nodes[0].InstallDisk; d == nil || d.Rule != DiskLargest || d.MinSizeGB != 200 || !lab.Nodes[0].WipeDisks || lab.Nodes[1].InstallDisk != nil {
		t.Errorf("node 0 disk %+v wipe %v; node 1 disk %+v", d, lab.Nodes[0].WipeDisks, lab.Nodes[1].InstallDisk)
	}
}

func TestDefaultRoute(t *testing.T) {
	const gw = "    gateway: 172.16.0.254\n"
	const data = "    address: 10.16.0.1\n"
	// No gateway anywhere: an error, at networks, unless allowNoDefaultRoute.
	errs, _ := problemsOf(t, writeLab(t, [2]string{gw, ""}))
	if !strings.Contains(errs, "lab.yaml:15:3: networks: no network sets gateway") || !strings.Contains(errs, "allowNoDefaultRoute: true") {
		t.Errorf("errors:\n%s", errs)
	}
	errs, warns := problemsOf(t, writeLab(t, [2]string{gw, ""}, [2]string{"networks:\n", "allowNoDefaultRoute: true\nnetworks:\n"}))
	if errs != "" || warns != "" {
		t.Errorf("with allowNoDefaultRoute: errors %q warnings %q", errs, warns)
	}
	// A gateway on two networks: a warning at the second one.
	errs, warns = problemsOf(t, writeLab(t, [2]string{data, data + "    gateway: 10.16.0.254\n"}))
	if errs != "" || !strings.Contains(warns, "lab.yaml:25:14: warning: networks[1].gateway: gateway is set on ctrl (172.16.0.254) and data (10.16.0.254)") {
		t.Errorf("errors %q warnings:\n%s", errs, warns)
	}
	// One gateway: neither.
	if errs, warns := problemsOf(t, writeLab(t)); errs != "" || warns != "" {
		t.Errorf("base lab: errors %q warnings %q", errs, warns)
	}
}

func TestDiscoveryAccess(t *testing.T) {
	const at = "  manifestsDir: ../manifests\n"
	withAccess := func(t *testing.T, hash string, args ...string) string {
		path := writeLab(t, [2]string{at, at + "  discoveryPasswordFile: ../secrets/core-hash\n  discoveryKernelArguments: [" + strings.Join(args, ", ") + "]\n"})
		if err := os.WriteFile(filepath.Join(filepath.Dir(path), "../secrets/core-hash"), []byte(hash+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	const hash = "$6$rounds=4096$saltsalt$3MEaFIjlLZmQK4oyWHAzk7GkQ5J0mjk4jKxFnLGS8yzB0lVUvS3/tvOXQKJPmDXxjXd1p5R7HVMmYgC2ArFnS0"
	lab, err := Load(withAccess(t, hash, `"console=ttyS0,115200n8"`, `rd.net.timeout.carrier=30`))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(lab.Cluster.DiscoveryPasswordHash.Reveal()); got != hash {
		t.Errorf("hash %q", got)
	}
	if got := strings.Join(lab.Cluster.DiscoveryKernelArguments, " "); got != "console=ttyS0,115200n8 rd.net.timeout.carrier=30" {
		t.Errorf("kernel arguments %q", got)
	}
	// A plain password is refused, and the message never quotes it.
	errs, _ := problemsOf(t, withAccess(t, "hunter2-FAKE-PASSWORD"))
	if !strings.Contains(errs, "cluster.discoveryPasswordFile: ") || !strings.Contains(errs, "does not hold a password hash") || strings.Contains(errs, "hunter2") {
		t.Errorf("errors:\n%s", errs)
	}
	errs, _ = problemsOf(t, withAccess(t, hash, `"two words"`))
	if !strings.Contains(errs, `cluster.discoveryKernelArguments[0]: "two words" is not one kernel argument`) {
		t.Errorf("errors:\n%s", errs)
	}
	// The hash is a secret: it never prints.
	if strings.Contains(lab.Cluster.DiscoveryPasswordHash.String(), "rounds") {
		t.Error("the hash prints")
	}
}
