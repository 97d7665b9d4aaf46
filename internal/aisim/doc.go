// Package aisim is an in-process simulator of the Red Hat Assisted Installer service for
// tests and for the rehearsal. It serves the v2 REST API subset pkg/ai uses, checked against
// the official spec (package spec), with the service's real status values, validations,
// host stages and error bodies, plus an SSO-like token endpoint.
//
// Time: all progress is computed lazily from a Clock (real, or FakeClock in tests) and
// Timings scaled by Options.TimeScale, so a whole install takes seconds or an explicit
// FakeClock.Advance; no goroutine drives it.
//
// Day-2 (day2.go): allow-add-hosts turns an installed cluster into the service's day-2 cluster,
// hosts of its infra envs register as AddToExistingClusterHost workers (a host booting into an
// installed day-1 cluster is refused, as the service refuses it), install host installs one of
// them up to Rebooting and leaves it added-to-existing-cluster, and ClusterAPI is a stand-in for
// the cluster's Kubernetes API that plays the new kubelets' client and serving CSRs. The import
// endpoint (clusters/import) is not simulated.
//
// Test hooks (methods on *Sim, also reachable over HTTP under /_sim/ for a standalone sim):
// NodeBooted (a node with a MAC booted the discovery image → a host appears after
// Timings.Discovery), PowerOffOnReboot + NodePoweredOn (a node that powers off instead of
// rebooting waits for a power-on), SetFaults / FailNext / StallNext (5xx rate, latency,
// stalled requests), ExpireAccessTokens / RevokeOfflineToken (auth faults).
//
// Standalone: `go run ./internal/aisim/cmd/aisim -listen 127.0.0.1:8090` (see that command's
// flags), or Sim.ListenAndServe from Go. The simulator must only listen on loopback.
//
// It imports pkg/ai for the JSON shapes only; it never calls the client.
package aisim
