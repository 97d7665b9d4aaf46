package main

import (
	"regexp"
	"strings"
	"testing"
)

func TestRehearseBadFaults(t *testing.T) {
	_, errOut, code := run(t, "rehearse", "-c", exampleLab, "--faults", "firmware-hang,nope")
	if code == 0 || !strings.Contains(errOut, `--faults: unknown fault "nope": want a comma-separated list of firmware-hang, power-off-after-write, discovery-after-write, bmc-lost-reply, bmc-slow, installer-5xx, token-expiry, stranger, or all`) {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

// TestRehearseFaultSummary runs the command with faults the flow heals and checks the summary:
// one line per fault with its node, when it was injected and what was done about it, and each
// node's boots against the expected ones.
func TestRehearseFaultSummary(t *testing.T) {
	if testing.Short() {
		t.Skip("the rehearsal runs for about 15s")
	}
	out, errOut, code := run(t, "rehearse", "-c", exampleLab, "--faults", "power-off-after-write,token-expiry", "--seed", "2",
		"--time-scale", "0.01", "--log-level", "error", "--timeout", "3m")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^rehearsal: faults \(seed 2\): power-off-after-write on (master|worker)-\d, token-expiry on the installer$`),
		regexp.MustCompile(`(?m)^  power-off-after-write  (master|worker)-\d +\+[0-9.]+m?s +flow: .+ \(\+[0-9.]+m?s\)$`),
		regexp.MustCompile(`(?m)^  token-expiry +installer +\+[0-9.]+m?s +installer client: fetched a new access token \(\+[0-9.]+m?s\)$`),
		regexp.MustCompile(`(?m)^  (master|worker)-\d +1/1/0 +1/1/0 +1/1$`), // the node that powered off, powered on from disk once
		regexp.MustCompile(`(?m)^rehearsal: installed in `),
	} {
		if !want.MatchString(out) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "1/0/0                        1/0/0    1/1"); n != 4 {
		t.Errorf("%d nodes booted once into discovery, want the other 4:\n%s", n, out)
	}
}
