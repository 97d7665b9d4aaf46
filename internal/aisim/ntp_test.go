package aisim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAdditionalNTPSources: an infra env keeps and shows the NTP sources it is registered or
// updated with, and refuses a list the service would refuse, with the service's message.
func TestAdditionalNTPSources(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	const base = "/api/assisted-install/v2/infra-envs"
	send := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, bytes.NewBufferString(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		var doc map[string]any
		_ = json.Unmarshal(b, &doc)
		return r.StatusCode, doc
	}
	const pull = `"pull_secret":"{\"auths\":{\"a\":{\"auth\":\"dTpw\"}}}"`
	code, ie := send(http.MethodPost, base, `{"name":"ie",`+pull+`,"additional_ntp_sources":"172.16.0.1,clock.lab"}`)
	if code != http.StatusCreated || ie["additional_ntp_sources"] != "172.16.0.1,clock.lab" {
		t.Fatalf("register: %d %v", code, ie)
	}
	id, _ := ie["id"].(string)
	if code, doc := send(http.MethodPost, base, `{"name":"bad",`+pull+`,"additional_ntp_sources":"172.16.0.1,Clock_Lab"}`); code != http.StatusBadRequest ||
		!strings.Contains(doc["reason"].(string), "Invalid NTP source: 172.16.0.1,Clock_Lab") {
		t.Errorf("register with a bad source: %d %v", code, doc)
	}
	if code, doc := send(http.MethodPatch, base+"/"+id, `{"additional_ntp_sources":"10.16.0.1"}`); code != http.StatusCreated || doc["additional_ntp_sources"] != "10.16.0.1" {
		t.Errorf("update: %d %v", code, doc)
	}
	if code, _ := send(http.MethodPatch, base+"/"+id, `{"additional_ntp_sources":"10.16.0.1,"}`); code != http.StatusBadRequest {
		t.Errorf("update with an empty item: %d, want 400", code)
	}
	if code, doc := send(http.MethodGet, base+"/"+id, ""); code != http.StatusOK || doc["additional_ntp_sources"] != "10.16.0.1" {
		t.Errorf("get after a refused update: %d %v", code, doc)
	}
	if v := s.Violations(); len(v) != 0 {
		t.Errorf("violations: %v", v)
	}
}
