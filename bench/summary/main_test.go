package main

import "testing"

func TestParse(t *testing.T) {
	r, ok := Parse("BENCH dhcp peer=12200 appliance=8900.5 limit=10500 unit=leases/s")
	if !ok || r.Name != "dhcp" || r.Peer != 12200 || r.Appliance != 8900.5 || r.Limit != 10500 || r.Unit != "leases/s" {
		t.Errorf("Parse = %+v, %v", r, ok)
	}
	if got := ratio(r, r.Peer, r.hasPeer); got != "0.73x" {
		t.Errorf("ratio vs peer %s, want 0.73x", got)
	}
	low, _ := Parse("BENCH dns-p99 peer=30 appliance=15 unit=us lower=better")
	if got := ratio(low, low.Peer, low.hasPeer); got != "2.00x" {
		t.Errorf("lower-is-better ratio %s, want 2.00x", got)
	}
	if got := ratio(low, low.Limit, low.hasLim); got != "-" {
		t.Errorf("ratio without a limit %s, want -", got)
	}
	if _, ok := Parse("round 1 BENCH"); ok {
		t.Error("parsed a line that is not a BENCH line")
	}
}
