package aisim

import (
	"strings"
	"testing"
)

// TestHostnameUniqueness: hosts sharing a name both fail hostname-unique; a host alone with
// its name passes; renaming one (requested hostname) clears both. (These hosts have no
// hardware, so their hardware validations fail: only hostname-unique is looked at.)
func TestHostnameUniqueness(t *testing.T) {
	named := func(name string) *host { h := &host{}; h.inv.Hostname = name; return h }
	a, b, c := named("n0"), named("n0"), named("n1")
	all := []*host{a, b, c}
	check := func(h *host, wantUnique bool) {
		t.Helper()
		v := hostValidations(h, hostNames(all))
		notUnique := strings.Contains(v.text, "is not unique in cluster")
		unique := strings.Contains(v.text, "is unique in cluster")
		if notUnique == wantUnique || unique != wantUnique {
			t.Errorf("host %s: validations %s; want unique %v", h.name(), v.text, wantUnique)
		}
	}
	check(a, false)
	check(b, false)
	check(c, true)
	b.h.RequestedHostname = "n2"
	check(a, true)
	check(b, true)
}
