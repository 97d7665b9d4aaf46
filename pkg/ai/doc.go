// Package ai is the Red Hat Assisted Installer client: typed models with the service's JSON
// names, helpers for its JSON-in-string fields, offline-token auth (x/oauth2, refresh_token
// grant), typed errors, retries with backoff and jitter for calls safe to repeat, and the
// Ignition override builder (CN2 ca-patch plus user fragments, validated by Ignition).
//
// It owns the wire contract only: it never logs bodies, tokens or pull secrets, and it
// imports no other project package. The install flow that drives it lives elsewhere; its
// tests run against internal/aisim through a transport that checks every request and
// response against the official spec (internal/aisim/spec).
package ai
