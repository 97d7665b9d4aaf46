package dhcp

// The namespace tests run the server as a helper process: this test binary,
// re-executed with `ip netns exec <srv> <binary>` and serveEnv naming a JSON
// Config. A process (rather than a setns()ed OS thread) is what the
// durability test must SIGKILL, and it keeps the test process itself in the
// host namespace. The helper prints "ready" once its sockets are bound and
// stops cleanly on SIGTERM.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/cn2-appliance/cn2-appliance/pkg/store"
)

const (
	serveEnv = "CN2_DHCP_TEST_SERVE" // path of a JSON Config
	stateEnv = "CN2_DHCP_TEST_STATE" // state folder
)

func TestMain(m *testing.M) {
	if n := os.Getenv(burstEnv); n != "" {
		if err := burstClient(n); err != nil {
			fmt.Fprintln(os.Stderr, "burst client:", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	if cfgPath := os.Getenv(serveEnv); cfgPath != "" {
		if err := serveHelper(cfgPath, os.Getenv(stateEnv)); err != nil {
			fmt.Fprintln(os.Stderr, "serve helper:", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func serveHelper(cfgPath, stateDir string) error {
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		return err
	}
	var cfg Config
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return err
	}
	st, err := store.Open(stateDir)
	if err != nil {
		return err
	}
	defer st.Close()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := New(cfg, st, nil, log)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		select {
		case <-s.Ready():
			fmt.Println("ready")
		case <-ctx.Done():
		}
	}()
	return s.Run(ctx)
}
