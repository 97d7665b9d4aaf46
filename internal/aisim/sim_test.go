package aisim

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestControlAPI drives the hooks over HTTP as a standalone simulator's users do, and
// checks that requests the spec forbids are refused like the service's binding would.
func TestControlAPI(t *testing.T) {
	clock := NewFakeClock(time.Unix(0, 0))
	s, err := New(Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	post := func(path, body string) *http.Response {
		r, err := http.Post(srv.URL+path, "application/json", bytes.NewBufferString(body))
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r
	}
	if r := post("/_sim/boot", `{"macs":["52:54:00:00:00:11"]}`); r.StatusCode != http.StatusConflict {
		t.Errorf("boot without infra-env: %d", r.StatusCode)
	}
	// network_type Contrail is not in the enum: refused with 400 before any handler runs.
	r := post("/api/assisted-install/v2/clusters", `{"name":"c","openshift_version":"4.14","pull_secret":"{\"auths\":{\"a\":{\"auth\":\"dTpw\"}}}","network_type":"Contrail"}`)
	if r.StatusCode != http.StatusBadRequest {
		t.Errorf("Contrail network_type: %d", r.StatusCode)
	}
	if r := post("/api/assisted-install/v2/infra-envs", `{"name":"ie","pull_secret":"{\"auths\":{\"a\":{\"auth\":\"dTpw\"}}}"}`); r.StatusCode != http.StatusCreated {
		t.Fatalf("infra-env: %d", r.StatusCode)
	}
	if r := post("/_sim/boot", `{"macs":["52:54:00:00:00:11"],"hostname":"n0"}`); r.StatusCode != http.StatusNoContent {
		t.Fatalf("boot: %d", r.StatusCode)
	}
	clock.Advance(DefaultTimings.Discovery)
	resp, err := http.Get(srv.URL + "/_sim/counts")
	if err != nil {
		t.Fatal(err)
	}
	var counts map[string]int
	_ = json.NewDecoder(resp.Body).Decode(&counts)
	resp.Body.Close()
	if counts["infra_envs"] != 1 || counts["hosts"] != 1 || counts["clusters"] != 0 {
		t.Errorf("counts %v", counts)
	}
	if v := s.Violations(); len(v) != 0 {
		t.Errorf("violations: %v", v)
	}
	if err := s.ListenAndServe(t.Context(), "0.0.0.0:0"); err == nil {
		t.Error("listened beyond loopback")
	}
}

// TestClientGoneDuringLatency: a client that gives up during an injected delay got no answer,
// so there is no answer to hold against the spec.
func TestClientGoneDuringLatency(t *testing.T) {
	s, err := New(Options{Faults: Faults{Latency: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/assisted-install/v2/clusters", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("answered %s during an hour's latency", resp.Status)
	}
	// The handler notices the client left; wait for it to finish with a request of our own.
	s.SetFaults(Faults{})
	resp, err := http.Get(srv.URL + "/api/assisted-install/v2/clusters")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	srv.Close() // waits for the abandoned request's handler
	if v := s.Violations(); len(v) != 0 {
		t.Errorf("violations: %v", v)
	}
}
