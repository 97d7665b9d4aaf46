package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/cn2-appliance/cn2-appliance/pkg/bmc"
)

// printCapabilities prints what a Redfish BMC advertises, one row per capability; drivers
// that report none of it (ipmi, libvirt) print nothing more.
func printCapabilities(out io.Writer, info bmc.Info) {
	if info.Auth == "" {
		return
	}
	list := func(vs []string, none string) string {
		if len(vs) == 0 {
			return none
		}
		return strings.Join(vs, ", ")
	}
	yesNo := func(b bool, yes, no string) string {
		if b {
			return yes
		}
		return no
	}
	media := "none (no CD/DVD virtual media)"
	if m := info.Media; m.Location != "" {
		media = fmt.Sprintf("under the %s (%s), by %s, insert sends %s", m.Location, m.Resource, m.Method, list(m.Parameters, "-"))
	}
	rows := [][2]string{
		{"power actions", list(info.ResetTypes, "not advertised (any is tried)")},
		{"boot targets", list(info.BootTargets, "not advertised")},
		{"boot durations", list(info.BootEnabled, "not advertised (Once, Continuous assumed)")},
		{"boot modes", list(info.BootModes, "none: no BootSourceOverrideMode, --uefi/--legacy are refused")},
		{"one-time boot", yesNo(info.OneTimeBoot, "yes (Once)", "no: Continuous is used, until the next boot device is set")},
		{"UEFI HTTP boot", yesNo(info.HTTPBoot, "yes (UefiHttp with HttpBootUri)", "no (the flow falls back to PXE)")},
		{"virtual media", media},
		{"authentication", yesNo(info.Auth == "session", "session", "basic (on every request)")},
	}
	if len(info.Fallbacks) == 0 {
		rows = append(rows, [2]string{"fallbacks", "none"})
	}
	for i, f := range info.Fallbacks {
		name := ""
		if i == 0 {
			name = "fallbacks"
		}
		rows = append(rows, [2]string{name, f})
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "capability\tvalue\n")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", r[0], r[1])
	}
	_ = tw.Flush()
}
