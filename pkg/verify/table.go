package verify

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteTable writes a report as `cn2-appliance verify` prints it: the summary, the CN2 pods,
// then what is not right, one row each, with its hint.
func WriteTable(w io.Writer, r Report) error {
	if _, err := fmt.Fprintln(w, r.Summary()); err != nil {
		return err
	}
	if r.Skipped != "" {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(r.CN2Pods) > 0 {
		fmt.Fprintln(tw, "\nCN2 POD\tNODE\tSTATUS")
		for _, p := range r.CN2Pods {
			fmt.Fprintf(tw, "%s/%s\t%s\t%s\n", p.Namespace, p.Name, dash(p.Node), p.Status)
		}
	}
	if len(r.Problems) > 0 {
		fmt.Fprintln(tw, "\nKIND\tOBJECT\tREASON\tDETAIL")
		for _, p := range r.Problems {
			detail := p.Message
			if p.Image != "" {
				detail = fmt.Sprintf("image %s from %s; %s", p.Image, p.Registry, p.Message)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Kind, p.Object(), p.Reason, dash(detail))
			if p.Hint != "" {
				fmt.Fprintf(tw, "\t\t\t  hint: %s\n", p.Hint)
			}
		}
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
