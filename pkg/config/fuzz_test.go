package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the lab-file decoder and validator: it must never panic,
// and every problem it reports must name the file.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*/*.yaml")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("a: &a [*a]"))
	f.Add([]byte("nodes: [{nics: [{mac: 1}]}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lab, err := Parse("testdata/valid/fuzz.yaml", data)
		if err == nil {
			_ = lab.DNSZones()
			_ = lab.BootPlan()
			return
		}
		if cerr, ok := err.(*Error); ok {
			for _, p := range cerr.Problems {
				if p.File != "testdata/valid/fuzz.yaml" {
					t.Fatalf("problem without the file: %+v", p)
				}
			}
		}
	})
}
