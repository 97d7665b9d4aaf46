// Command gen writes the lab file's JSON Schema (labschema.Generate) to the file its argument
// names; `go generate ./pkg/config` runs it.
package main

import (
	"fmt"
	"os"

	"github.com/cn2-appliance/cn2-appliance/pkg/config/labschema"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gen OUTPUT.json (run in pkg/config)")
		os.Exit(2)
	}
	b, err := labschema.Generate(".")
	if err == nil {
		err = os.WriteFile(os.Args[1], b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "labschema:", err)
		os.Exit(1)
	}
}
