package store

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func leaseEqual(a, b Lease) bool {
	return a.Network == b.Network && a.MAC == b.MAC && a.IP == b.IP && a.Hostname == b.Hostname &&
		a.Start.Equal(b.Start) && a.Expiry.Equal(b.Expiry) && a.Reserved == b.Reserved
}

func lease(network, mac, ip string, expiry time.Duration) Lease {
	l := Lease{Network: network, MAC: mac, IP: netip.MustParseAddr(ip), Start: t0, Hostname: "h-" + ip}
	if expiry != 0 {
		l.Expiry = t0.Add(expiry)
	}
	return l
}

func TestPutLease(t *testing.T) {
	for _, tc := range []struct {
		name    string
		before  []Lease
		put     Lease
		wantErr error  // errors.Is target; nil = success
		errText string // substring of the error
		want    []Lease
	}{
		{
			name: "new lease",
			put:  lease("ctrl", "52:54:00:00:00:11", "172.16.0.11", time.Hour),
			want: []Lease{lease("ctrl", "52:54:00:00:00:11", "172.16.0.11", time.Hour)},
		},
		{
			name: "MAC is canonicalized",
			put:  lease("ctrl", "52-54-00-AA-BB-CC", "172.16.0.12", 0),
			want: []Lease{lease("ctrl", "52:54:00:aa:bb:cc", "172.16.0.12", 0)},
		},
		{
			name: "4-in-6 IP is stored unmapped",
			put:  lease("ctrl", "52:54:00:00:00:11", "::ffff:172.16.0.11", 0),
			want: []Lease{func() Lease {
				l := lease("ctrl", "52:54:00:00:00:11", "172.16.0.11", 0)
				l.Hostname = "h-::ffff:172.16.0.11"
				return l
			}()},
		},
		{
			name:   "renewal replaces",
			before: []Lease{lease("ctrl", "52:54:00:00:00:11", "172.16.0.11", time.Hour)},
			put:    lease("ctrl", "52:54:00:00:00:11", "172.16.0.11", 2*time.Hour),
			want:   []Lease{lease("ctrl", "52:54:00:00:00:11", "172.16.0.11", 2*time.Hour)},
		},
		{
			name:    "same IP for a second MAC is refused",
			before:  []Lease{lease("ctrl", "52:54:00:00:00:11", "172.16.0.11", time.Hour)},
			put:     lease("ctrl", "52:54:00:00:00:12", "172.16.0.11", time.Hour),
			wantErr: ErrIPInUse,
			errText: "store: put lease 52:54:00:00:00:12 on ctrl: 172.16.0.11 is leased to 52:54:00:00:00:11",
			want:    []Lease{lease("ctrl", "52:54:00:00:00:11", "172.16.0.11", time.Hour)},
		},
		{
			name:   "same IP on another network is fine",
			before: []Lease{lease("ctrl", "52:54:00:00:00:11", "10.0.0.1", time.Hour)},
			put:    lease("data", "52:54:00:00:00:12", "10.0.0.1", time.Hour),
			want: []Lease{
				lease("ctrl", "52:54:00:00:00:11", "10.0.0.1", time.Hour),
				lease("data", "52:54:00:00:00:12", "10.0.0.1", time.Hour),
			},
		},
		{
			name:   "moving a MAC frees its old IP",
			before: []Lease{lease("ctrl", "52:54:00:00:00:11", "172.16.0.50", time.Hour)},
			put:    lease("ctrl", "52:54:00:00:00:11", "172.16.0.11", time.Hour),
			want:   []Lease{lease("ctrl", "52:54:00:00:00:11", "172.16.0.11", time.Hour)},
		},
		{name: "bad MAC", put: lease("ctrl", "nope", "172.16.0.11", 0), wantErr: ErrInvalid, errText: `mac "nope"`},
		{name: "no network", put: lease("", "52:54:00:00:00:11", "172.16.0.11", 0), wantErr: ErrInvalid},
		{name: "no IP", put: Lease{Network: "ctrl", MAC: "52:54:00:00:00:11"}, wantErr: ErrInvalid, errText: "no ip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openTemp(t)
			if err := s.PutLeases(tc.before); err != nil {
				t.Fatal(err)
			}
			err := s.PutLease(tc.put)
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("PutLease: %v", err)
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Fatalf("PutLease error %v, want %v", err, tc.wantErr)
			case err != nil && !strings.Contains(err.Error(), tc.errText):
				t.Errorf("error %q does not contain %q", err, tc.errText)
			}
			got, err := s.Leases("")
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("Leases = %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if !leaseEqual(got[i], tc.want[i]) {
					t.Errorf("lease %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
			checkIndex(t, s)
		})
	}
}

func TestMovedMACReleasesOldIP(t *testing.T) {
	s := openTemp(t)
	a, b := "52:54:00:00:00:11", "52:54:00:00:00:12"
	must(t, s.PutLease(lease("ctrl", a, "172.16.0.50", time.Hour)))
	must(t, s.PutLease(lease("ctrl", a, "172.16.0.51", time.Hour)))
	if _, ok, err := s.LeaseByIP("ctrl", netip.MustParseAddr("172.16.0.50")); err != nil || ok {
		t.Fatalf("old IP still indexed: %v, %v", ok, err)
	}
	// The freed address can go to another client.
	must(t, s.PutLease(lease("ctrl", b, "172.16.0.50", time.Hour)))
	got, ok, err := s.LeaseByIP("ctrl", netip.MustParseAddr("172.16.0.50"))
	if err != nil || !ok || got.MAC != b {
		t.Errorf("LeaseByIP = %+v, %v, %v; want %s", got, ok, err, b)
	}
	checkIndex(t, s)
}

func TestLeaseLookups(t *testing.T) {
	s := openTemp(t)
	must(t, s.PutLeases([]Lease{
		lease("ctrl", "52:54:00:00:00:12", "172.16.0.12", time.Hour),
		lease("ctrl", "52:54:00:00:00:11", "172.16.0.11", time.Hour),
		lease("ctrl2", "52:54:00:00:00:13", "172.16.0.13", time.Hour),
		lease("data", "52:54:00:00:01:11", "10.16.0.11", 0),
	}))
	for _, tc := range []struct {
		network string
		want    []string // MACs in order
	}{
		{"", []string{"52:54:00:00:00:11", "52:54:00:00:00:12", "52:54:00:00:00:13", "52:54:00:00:01:11"}},
		{"ctrl", []string{"52:54:00:00:00:11", "52:54:00:00:00:12"}}, // not ctrl2's
		{"data", []string{"52:54:00:00:01:11"}},
		{"nope", nil},
	} {
		got, err := s.Leases(tc.network)
		if err != nil {
			t.Fatal(err)
		}
		var macs []string
		for _, l := range got {
			macs = append(macs, l.MAC)
		}
		if strings.Join(macs, ",") != strings.Join(tc.want, ",") {
			t.Errorf("Leases(%q) = %v, want %v", tc.network, macs, tc.want)
		}
	}
	for _, tc := range []struct {
		network, mac, wantIP string // wantIP "" = not found
	}{
		{"ctrl", "52:54:00:00:00:11", "172.16.0.11"},
		{"ctrl", "52:54:00:00:00:12", "172.16.0.12"},
		{"ctrl", "52-54-00-00-00-12", "172.16.0.12"}, // any MAC spelling
		{"ctrl", "52:54:00:00:00:13", ""},            // on ctrl2
		{"data", "52:54:00:00:01:11", "10.16.0.11"},
		{"data", "52:54:00:00:00:11", ""},
	} {
		l, ok, err := s.Lease(tc.network, tc.mac)
		if err != nil {
			t.Fatal(err)
		}
		if ok != (tc.wantIP != "") || (ok && l.IP.String() != tc.wantIP) {
			t.Errorf("Lease(%s, %s) = %v, %v; want %q", tc.network, tc.mac, l.IP, ok, tc.wantIP)
		}
		if tc.wantIP == "" {
			continue
		}
		byIP, ok, err := s.LeaseByIP(tc.network, netip.MustParseAddr(tc.wantIP))
		if err != nil || !ok || !leaseEqual(byIP, l) {
			t.Errorf("LeaseByIP(%s, %s) = %+v, %v, %v; want %+v", tc.network, tc.wantIP, byIP, ok, err, l)
		}
	}
	if _, ok, err := s.LeaseByIP("ctrl", netip.MustParseAddr("10.16.0.11")); ok || err != nil {
		t.Errorf("LeaseByIP of another network's IP = %v, %v", ok, err)
	}
	if _, _, err := s.Lease("ctrl", "zz"); !errors.Is(err, ErrInvalid) {
		t.Errorf("Lease with a bad MAC: %v, want ErrInvalid", err)
	}
}

func TestPutLeasesIsAtomic(t *testing.T) {
	s := openTemp(t)
	err := s.PutLeases([]Lease{
		lease("ctrl", "52:54:00:00:00:11", "172.16.0.11", time.Hour),
		lease("ctrl", "52:54:00:00:00:12", "172.16.0.11", time.Hour), // conflicts with the first
	})
	if !errors.Is(err, ErrIPInUse) {
		t.Fatalf("PutLeases error %v, want ErrIPInUse", err)
	}
	if got, err := s.Leases(""); err != nil || len(got) != 0 {
		t.Errorf("after a failed batch: %+v, %v; want nothing", got, err)
	}
	checkIndex(t, s)
}

func TestDeleteLease(t *testing.T) {
	s := openTemp(t)
	must(t, s.PutLease(lease("ctrl", "52:54:00:00:00:11", "172.16.0.11", time.Hour)))
	for _, mac := range []string{"52:54:00:00:00:11", "52:54:00:00:00:11", "52:54:00:00:00:99"} { // twice, and an unknown one
		if err := s.DeleteLease("ctrl", mac); err != nil {
			t.Fatalf("DeleteLease(%s): %v", mac, err)
		}
	}
	if _, ok, err := s.Lease("ctrl", "52:54:00:00:00:11"); ok || err != nil {
		t.Errorf("lease still there: %v, %v", ok, err)
	}
	if _, ok, err := s.LeaseByIP("ctrl", netip.MustParseAddr("172.16.0.11")); ok || err != nil {
		t.Errorf("IP still indexed: %v, %v", ok, err)
	}
	checkIndex(t, s)
	// The IP is free for someone else.
	must(t, s.PutLease(lease("ctrl", "52:54:00:00:00:12", "172.16.0.11", time.Hour)))
}

func TestDeleteExpiredLeases(t *testing.T) {
	s := openTemp(t)
	reserved := lease("ctrl", "52:54:00:00:00:13", "172.16.0.13", time.Minute)
	reserved.Reserved = true
	must(t, s.PutLeases([]Lease{
		lease("ctrl", "52:54:00:00:00:11", "172.16.0.11", time.Minute),   // expires at t0+1m
		lease("ctrl", "52:54:00:00:00:12", "172.16.0.12", time.Hour),     // later
		lease("data", "52:54:00:00:01:11", "10.16.0.11", 0),              // never
		lease("data", "52:54:00:00:01:12", "10.16.0.12", 30*time.Second), // earlier
		reserved,
	}))
	for _, tc := range []struct {
		now  time.Time
		want int
		left int
	}{
		{t0, 0, 5},
		{t0.Add(time.Minute), 3, 2}, // expiry == now counts as expired
		{t0.Add(time.Minute), 0, 2}, // idempotent
		{t0.Add(24 * time.Hour), 1, 1},
		{t0.Add(1000 * time.Hour), 0, 1}, // zero expiry stays
	} {
		n, err := s.DeleteExpiredLeases(tc.now)
		if err != nil || n != tc.want {
			t.Errorf("DeleteExpiredLeases(%v) = %d, %v; want %d", tc.now, n, err, tc.want)
		}
		if got, _ := s.Leases(""); len(got) != tc.left {
			t.Errorf("after sweep at %v: %d leases, want %d", tc.now, len(got), tc.left)
		}
		checkIndex(t, s)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentClaimsOfOneIP(t *testing.T) {
	s := openTemp(t)
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() {
			errs <- s.PutLease(lease("ctrl", fmt.Sprintf("52:54:00:00:00:%02x", i), "172.16.0.50", time.Hour))
		}()
	}
	won := 0
	for range n {
		switch err := <-errs; {
		case err == nil:
			won++
		case !errors.Is(err, ErrIPInUse):
			t.Errorf("unexpected error: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d clients got 172.16.0.50, want exactly 1", won)
	}
	if got, _ := s.Leases("ctrl"); len(got) != 1 {
		t.Errorf("%d leases, want 1", len(got))
	}
	checkIndex(t, s)
}
