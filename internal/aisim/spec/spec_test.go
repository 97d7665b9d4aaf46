package spec

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestLoadAndRoute(t *testing.T) {
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ method, path, op string }{
		{"POST", "/api/assisted-install/v2/clusters", "v2RegisterCluster"},
		{"PATCH", "/api/assisted-install/v2/clusters/3fa85f64-5717-4562-b3fc-2c963f66afa6/install-config", "v2UpdateClusterInstallConfig"},
		{"GET", "/api/assisted-install/v2/infra-envs/3fa85f64-5717-4562-b3fc-2c963f66afa6/downloads/files?file_name=ipxe-script", "v2DownloadInfraEnvFiles"},
		{"GET", "/api/assisted-install/v2/nope", ""},
	} {
		r := httptest.NewRequest(tc.method, "http://127.0.0.1:1234"+tc.path, nil)
		if got := s.OperationID(r); got != tc.op {
			t.Errorf("%s %s: operation %q, want %q", tc.method, tc.path, got, tc.op)
		}
	}
}

func TestValidateRequestBody(t *testing.T) {
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	path := "http://127.0.0.1/api/assisted-install/v2/clusters"
	good := `{"name":"mycluster","openshift_version":"4.14","pull_secret":"{}"}`
	r := httptest.NewRequest("POST", path, nil)
	r.Header.Set("Content-Type", "application/json")
	if err := s.ValidateRequest(ctx, r, []byte(good)); err != nil {
		t.Errorf("good body refused: %v", err)
	}
	for _, bad := range []string{
		`{"name":"mycluster","openshift_version":"4.14"}`,
		`{"name":"mycluster","openshift_version":"4.14","pull_secret":"{}","network_type":"Contrail"}`,
	} {
		if err := s.ValidateRequest(ctx, r, []byte(bad)); err == nil {
			t.Errorf("bad body accepted: %s", bad)
		}
	}
	// The install-config override is a JSON string, not an object.
	ic := httptest.NewRequest("PATCH", "http://127.0.0.1/api/assisted-install/v2/clusters/3fa85f64-5717-4562-b3fc-2c963f66afa6/install-config", nil)
	ic.Header.Set("Content-Type", "application/json")
	if err := s.ValidateRequest(ctx, ic, []byte(`"{\"networking\":{\"networkType\":\"Contrail\"}}"`)); err != nil {
		t.Errorf("string override refused: %v", err)
	}
	if err := s.ValidateRequest(ctx, ic, []byte(`{"networking":{"networkType":"Contrail"}}`)); err == nil || !strings.Contains(err.Error(), "string") {
		t.Errorf("object override accepted or wrong error: %v", err)
	}
}
