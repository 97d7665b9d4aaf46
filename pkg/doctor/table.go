package doctor

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteTable prints the report as a table (check, target, result, what to do) and a last line
// that says whether the lab is fit to install.
func (r Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tTARGET\tRESULT\tWHAT TO DO")
	for _, res := range r.Results {
		result := string(res.Status)
		if res.Message != "" {
			result += ": " + res.Message
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", res.Check, res.Target, oneLine(result), oneLine(res.Fix))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	counts := map[Status]int{}
	for _, res := range r.Results {
		counts[res.Status]++
	}
	verdict := "the lab is ready to install"
	if counts[StatusError] > 0 {
		verdict = "fix the errors above before installing"
	}
	_, err := fmt.Fprintf(w, "\n%d error(s), %d warning(s), %d skipped in %s: %s\n",
		counts[StatusError], counts[StatusWarning], counts[StatusSkipped], r.Duration.Round(100_000_000), verdict)
	return err
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
