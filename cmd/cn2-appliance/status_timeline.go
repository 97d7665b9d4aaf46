package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/status"
	"github.com/cn2-appliance/cn2-appliance/pkg/timeline"
)

// showNodeTimeline prints one node's timeline from the running appliance at addr: its phases
// with their durations, then every milestone.
func showNodeTimeline(w io.Writer, addr, node string, asJSON bool) error {
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + addr + "/api/v1/nodes/" + url.PathEscape(node) + "/timeline")
	if err != nil {
		return fmt.Errorf("is the appliance running? %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("timeline of %s from %s: %w", node, addr, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("timeline of %s from %s: %s: %s", node, addr, resp.Status, strings.TrimSpace(string(body)))
	}
	if asJSON {
		_, err := w.Write(body)
		return err
	}
	var nt status.NodeTimeline
	if err := json.Unmarshal(body, &nt); err != nil {
		return fmt.Errorf("timeline of %s from %s: %w", node, addr, err)
	}
	return writeNodeTimeline(w, nt)
}

func writeNodeTimeline(w io.Writer, nt status.NodeTimeline) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(nt.Milestones) == 0 {
		fmt.Fprintf(tw, "%s: no milestones yet\n", nt.Node)
		return tw.Flush()
	}
	first := nt.Milestones[0].Time
	if !nt.Installed.IsZero() {
		fmt.Fprintf(tw, "%s: installed in %s (from its first milestone at %s)\n", nt.Node, nt.Installed.Sub(first).Round(time.Second), first.Local().Format("15:04:05"))
	} else {
		fmt.Fprintf(tw, "%s: not installed yet (first milestone at %s)\n", nt.Node, first.Local().Format("15:04:05"))
	}
	fmt.Fprintln(tw, "\nPHASE\tSTAGE\tFROM\tFOR")
	for _, b := range nt.Phases {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", b.Phase, dash(b.Stage), b.Start.Local().Format("15:04:05"), b.End.Sub(b.Start).Round(time.Second))
	}
	fmt.Fprintln(tw, "\nTIME\tKIND\tWHAT")
	for _, e := range nt.Milestones {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Time.Local().Format("15:04:05.000"), e.Kind, describe(e))
	}
	return tw.Flush()
}

// describe is a milestone in one line: what, about what, how much, how fast, what failed.
func describe(e timeline.Entry) string {
	s := e.Detail
	if e.Subject != "" {
		s = e.Subject + ": " + s
	}
	if e.Bytes > 0 {
		s += fmt.Sprintf(", %d bytes", e.Bytes)
		if e.Rate > 0 {
			s += fmt.Sprintf(" in %s (%.1f MB/s)", e.Duration.Round(time.Millisecond), e.Rate/1e6)
		}
	}
	if e.Err != "" {
		s += " — failed: " + e.Err
	}
	return s
}
