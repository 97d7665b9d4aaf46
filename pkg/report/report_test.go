package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestBundleScrubsSecretsAndIndexesParts(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, Index{Version: "test", Lab: "lab.yaml"}, [][]byte{[]byte("hunter2-password"), []byte("abc"), []byte("  TOKEN-123456\n")})
	if err := b.Add("events.json", []byte(`{"msg":"login with hunter2-password and TOKEN-123456, abc stays"}`)); err != nil {
		t.Fatal(err)
	}
	if err := b.AddJSON("timelines/master-0.json", map[string]int{"n": 1}); err != nil {
		t.Fatal(err)
	}
	b.Miss("installer/logs.tar.gz", errors.New("no logs yet"))
	if err := b.Add("../escape", nil); err == nil {
		t.Error("a part outside the bundle was accepted")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	parts, order, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(order, " ") != "events.json timelines/master-0.json index.json" {
		t.Errorf("parts %v", order)
	}
	if got := string(parts["events.json"]); got != `{"msg":"login with [redacted] and [redacted], abc stays"}` {
		t.Errorf("scrubbed part = %s", got)
	}
	var ix Index
	if err := json.Unmarshal(parts[IndexName], &ix); err != nil {
		t.Fatal(err)
	}
	if len(ix.Parts) != 2 || ix.Parts[0].Scrubbed != 2 || len(ix.Missing) != 1 || ix.Missing[0].Why != "no logs yet" || ix.Created.IsZero() {
		t.Errorf("index = %+v", ix)
	}
}
