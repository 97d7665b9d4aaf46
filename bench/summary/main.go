// Command summary copies the benchmarks' output through and ends it with one table of their
// results. Each benchmark prints, last, machine-readable lines of the form
//
//	BENCH <name> peer=<n> appliance=<n> limit=<n> unit=<unit> [lower=better] [key=value ...]
//
// (a field a benchmark has no figure for is left out), and summary lists them with the ratios
// appliance/peer and appliance/limit (for lower=better figures, peer/appliance and
// limit/appliance: above 1 is always the appliance ahead).
//
//	go run ./bench/dns 2>&1 | go run ./bench/summary
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Result is one BENCH line.
type Result struct {
	Name                    string
	Peer, Appliance, Limit  float64 // NaN-free: has* says which are set
	hasPeer, hasApp, hasLim bool
	Unit                    string
	LowerBetter             bool
	Extra                   []string
}

// Parse reads one BENCH line; ok is false for any other line.
func Parse(line string) (r Result, ok bool) {
	f := strings.Fields(line)
	if len(f) < 2 || f[0] != "BENCH" {
		return r, false
	}
	r.Name = f[1]
	for _, kv := range f[2:] {
		k, v, _ := strings.Cut(kv, "=")
		x, err := strconv.ParseFloat(v, 64)
		switch {
		case k == "peer" && err == nil:
			r.Peer, r.hasPeer = x, true
		case k == "appliance" && err == nil:
			r.Appliance, r.hasApp = x, true
		case k == "limit" && err == nil:
			r.Limit, r.hasLim = x, true
		case k == "unit":
			r.Unit = v
		case k == "lower":
			r.LowerBetter = v == "better"
		default:
			r.Extra = append(r.Extra, kv)
		}
	}
	return r, true
}

func ratio(r Result, other float64, has bool) string {
	if !has || !r.hasApp || other == 0 || r.Appliance == 0 {
		return "-"
	}
	if r.LowerBetter {
		return fmt.Sprintf("%.2fx", other/r.Appliance)
	}
	return fmt.Sprintf("%.2fx", r.Appliance/other)
}

func num(x float64, has bool) string {
	if !has {
		return "-"
	}
	return strconv.FormatFloat(x, 'f', -1, 64)
}

func main() {
	var results []Result
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fmt.Println(sc.Text())
		if r, ok := Parse(sc.Text()); ok {
			results = append(results, r)
		}
	}
	load := "unknown"
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	fmt.Printf("\n== benchmark summary (load %s; ratios above 1: the appliance ahead) ==\n", load)
	fmt.Printf("%-12s %12s %12s %12s %-16s %10s %10s  %s\n", "bench", "peer", "appliance", "limit", "unit", "vs peer", "vs limit", "notes")
	for _, r := range results {
		fmt.Printf("%-12s %12s %12s %12s %-16s %10s %10s  %s\n", r.Name, num(r.Peer, r.hasPeer), num(r.Appliance, r.hasApp), num(r.Limit, r.hasLim),
			r.Unit, ratio(r, r.Peer, r.hasPeer), ratio(r, r.Limit, r.hasLim), strings.Join(r.Extra, " "))
	}
	if len(results) == 0 {
		fmt.Println("(no BENCH lines: every benchmark failed; see above)")
		os.Exit(1)
	}
}
