package status

import (
	"net/http"
	"strings"
	"testing"
)

// TestFailingHardwareShownPerNode: a node's failing hardware and disk validations show in its
// row in plain words with the lab key that fixes them, as does an install disk that matches
// none of its disks; the validations table carries the fix too.
func TestFailingHardwareShownPerNode(t *testing.T) {
	snap := sample()
	v := Validation{Scope: "worker-1", ID: "has-min-valid-disks", Status: "failure", Message: "No eligible disks were found, please check specific disks to see why they are not eligible"}
	v.Plain, v.Fix = ExplainValidation(v.ID)
	snap.Validations = append(snap.Validations, v)
	snap.Nodes[1].Failing = []Validation{v}
	snap.Nodes[0].NeedsAttention = "installDisk serial S1 matches none of its disks; it has: sda 120 GB HDD byPath /dev/disk/by-path/pci-0000:00:05.0-scsi-0:0:0:0. Change nodes[master-0].installDisk to one of these"
	srv := serve(t, Options{Source: func() Snapshot { return snap }})
	code, body := get(t, srv.URL+"/")
	if code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	row := body[strings.Index(body, `<tr class="node-remedies" data-node="worker-1">`):]
	row = row[:strings.Index(row, "</tr>")]
	for _, want := range []string{`data-validation="has-min-valid-disks"`, "the installer finds no disk it can install to", "nodes[].installDisk", "nodes[].wipeDisks"} {
		if !strings.Contains(row, want) {
			t.Errorf("worker-1's row lacks %q:\n%s", want, row)
		}
	}
	if !strings.Contains(body, "needs attention:</strong> installDisk serial S1 matches none of its disks; it has: sda 120 GB") {
		t.Error("master-0's disk mismatch is not shown")
	}
	table := body[strings.Index(body, `<table id="validations">`):]
	table = table[:strings.Index(table, "</table>")]
	if !strings.Contains(table, "lab key that fixes it") || !strings.Contains(table, "nodes[].installDisk: name a disk of at least 100 GB") {
		t.Errorf("validations table:\n%s", table)
	}
	if p, f := ExplainValidation("no-such-check"); p != "" || f != "" {
		t.Errorf("unknown validation explained: %q %q", p, f)
	}
}
