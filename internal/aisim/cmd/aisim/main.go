// Command aisim runs the Assisted Installer simulator standalone on loopback, for tests
// that need it to outlive the process under test and for manual rehearsals.
//
//	go run ./internal/aisim/cmd/aisim -listen 127.0.0.1:8090 -time-scale 0.01
//
// Point the client at http://127.0.0.1:8090 (token URL http://127.0.0.1:8090 + aisim.TokenPath
// when -offline-token-file is set). Test hooks are under /_sim/ (see aisim's control.go):
// boot, power-on, power-off-on-reboot, powered-off, faults, expire-tokens, counts.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/aisim"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8090", "loopback address to serve on")
	scale := flag.Float64("time-scale", 0.01, "multiplies the simulated durations")
	tokenFile := flag.String("offline-token-file", "", "require auth; offline token accepted by the token endpoint")
	expired := flag.Int("expired-status", 401, "status for an expired access token (401 or 400)")
	errRate := flag.Float64("error-rate", 0, "probability of an injected 5xx per API request")
	latency := flag.Duration("latency", 0, "added latency per API request")
	tokenTTL := flag.Duration("token-ttl", 15*time.Minute, "access token lifetime")
	cp := flag.Int("control-plane-count", 3, "default control plane size")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	t := aisim.DefaultTimings
	t.TokenTTL = *tokenTTL
	opts := aisim.Options{TimeScale: *scale, Timings: t, ControlPlaneCount: *cp, Logger: log,
		Faults: aisim.Faults{ErrorRate: *errRate, Latency: *latency}}
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "aisim:", err)
			os.Exit(2)
		}
		opts.Auth = &aisim.Auth{OfflineTokens: []string{strings.TrimSpace(string(b))}, ExpiredStatus: *expired}
	}
	sim, err := aisim.New(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "aisim:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log.Info("aisim: serving", "addr", *listen)
	if err := sim.ListenAndServe(ctx, *listen); err != nil {
		fmt.Fprintln(os.Stderr, "aisim:", err)
		os.Exit(1)
	}
}
