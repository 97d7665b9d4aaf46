package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/report"
	"github.com/cn2-appliance/cn2-appliance/pkg/status"
	"github.com/prometheus/client_golang/prometheus"
)

func TestReportCommand(t *testing.T) {
	write := func(_ context.Context, w io.Writer) error {
		b := report.New(w, report.Index{Version: "test"}, nil)
		if err := b.Add("events.json", []byte("[]\n")); err != nil {
			return err
		}
		return b.Close()
	}
	srv := httptest.NewServer(status.NewHandler(status.Options{Source: func() status.Snapshot { return status.Snapshot{Time: time.Now()} },
		Gatherer: prometheus.NewRegistry(), Report: write}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	state := t.TempDir()
	if err := os.MkdirAll(filepath.Join(state, "auth"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, "auth", "kubeconfig"), []byte("apiVersion: v1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	read := func(file string) (map[string][]byte, report.Index) {
		t.Helper()
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		parts, _, err := report.Read(f)
		if err != nil {
			t.Fatal(err)
		}
		var ix report.Index
		if err := json.Unmarshal(parts[report.IndexName], &ix); err != nil {
			t.Fatal(err)
		}
		return parts, ix
	}

	plain := filepath.Join(t.TempDir(), "report.tar.gz")
	if out, errOut, code := run(t, "report", "-c", exampleLab, "--addr", addr, "-o", plain, "--state-dir", state); code != 0 || !strings.Contains(out, "run report written to "+plain) {
		t.Fatalf("report: code %d %s %s", code, out, errOut)
	}
	parts, ix := read(plain)
	if len(parts["events.json"]) == 0 || parts["auth/kubeconfig"] != nil || ix.WithCredentials {
		t.Errorf("without --with-credentials: parts %v, index %+v", len(parts), ix)
	}
	if info, err := os.Stat(plain); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("report mode %v %v", info, err)
	}

	withCreds := filepath.Join(t.TempDir(), "report.tar.gz")
	if _, errOut, code := run(t, "report", "-c", exampleLab, "--addr", addr, "-o", withCreds, "--state-dir", state, "--with-credentials"); code != 0 {
		t.Fatalf("report --with-credentials: code %d %s", code, errOut)
	}
	parts, ix = read(withCreds)
	if string(parts["auth/kubeconfig"]) != "apiVersion: v1\n" || !ix.WithCredentials || len(parts["events.json"]) == 0 ||
		len(ix.Missing) != 1 || ix.Missing[0].Name != "auth/kubeadmin-password" {
		t.Errorf("with credentials: parts %d, index %+v", len(parts), ix)
	}
}
