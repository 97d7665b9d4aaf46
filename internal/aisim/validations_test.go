package aisim

import (
	"strings"
	"testing"
)

// TestHostnameUniqueness: hosts sharing a name both fail hostname-unique; a host alone with
// its name passes; renaming one (requested hostname) clears both.
func TestHostnameUniqueness(t *testing.T) {
	named := func(name string) *host { h := &host{}; h.inv.Hostname = name; return h }
	a, b, c := named("n0"), named("n0"), named("n1")
	all := []*host{a, b, c}
	check := func(h *host, wantUnique bool) {
		t.Helper()
		v := hostValidations(h, hostNames(all))
		notUnique := strings.Contains(v.text, "is not unique in cluster")
		if notUnique == wantUnique || v.ok != wantUnique {
			t.Errorf("host %s: ok %v, validations %s; want unique %v", h.name(), v.ok, v.text, wantUnique)
		}
	}
	check(a, false)
	check(b, false)
	check(c, true)
	b.h.RequestedHostname = "n2"
	check(a, true)
	check(b, true)
}
