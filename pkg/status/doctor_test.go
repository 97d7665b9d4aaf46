package status

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestDoctorSection: the last preflight shows on the page (each result with its fix) and in
// the JSON API; before the first run the page says so.
func TestDoctorSection(t *testing.T) {
	withDoctor := func() Snapshot {
		s := sample()
		s.Doctor = &Doctor{Time: s.Time, Duration: 3 * time.Second, Failed: true, Results: []DoctorResult{
			{Check: "interfaces", Target: "ctrl (ens4)", Status: "ok", Message: "up, holds 172.16.0.1/24"},
			{Check: "address-conflicts", Target: "172.16.0.100 on ctrl", Status: "error",
				Message: "172.16.0.100 (API VIP) is already in use: answered ARP from 52:54:00:aa:bb:cc", Fix: "free 172.16.0.100 <or> choose another cluster.apiVIP"},
			{Check: "time", Target: "jump host clock", Status: "warning", Message: "not synchronised", Fix: "run chrony"},
		}}
		return s
	}
	srv := serve(t, Options{Source: withDoctor})
	_, body := get(t, srv.URL+"/")
	for _, want := range []string{
		`id="doctor-summary" data-failed="true"`, "The install waits",
		`data-check="address-conflicts" data-status="error"`, "answered ARP from 52:54:00:aa:bb:cc",
		"free 172.16.0.100 &lt;or&gt; choose another cluster.apiVIP",
		`data-check="time" data-status="warning"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	_, raw := get(t, srv.URL+"/api/v1/status")
	var s Snapshot
	if err := json.Unmarshal([]byte(raw), &s); err != nil || s.Doctor == nil || !s.Doctor.Failed || len(s.Doctor.Results) != 3 || s.Doctor.Results[1].Fix == "" {
		t.Errorf("/api/v1/status doctor = %+v (%v)", s.Doctor, err)
	}

	srv = serve(t, Options{})
	if _, body := get(t, srv.URL+"/"); !strings.Contains(body, "not run yet") {
		t.Error("page without a preflight report does not say it has not run")
	}
}
