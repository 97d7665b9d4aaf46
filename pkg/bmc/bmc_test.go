package bmc_test

import (
	"io"
	"log/slog"
	"testing"

	"github.com/cn2-appliance/cn2-appliance/pkg/bmc"
)

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) { w.t.Log(string(b)); return len(b), nil }

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testClient opens a client for cfg, after the test's changes to it, closed when the test ends.
func testClient(t *testing.T, cfg bmc.Config, mod ...func(*bmc.Config)) *bmc.Client {
	t.Helper()
	for _, m := range mod {
		m(&cfg)
	}
	c, err := bmc.New(cfg, bmc.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
