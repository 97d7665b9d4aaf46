package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/status"
	"github.com/spf13/cobra"
)

func newStatusCmd(g *globalFlags) *cobra.Command {
	var asJSON bool
	var addr string
	cmd := &cobra.Command{
		Use:   "status [NODE]",
		Short: "Show the running appliance's status: install steps, nodes, failing validations, recent events; or one node's timeline",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if addr == "" {
				var err error
				if addr, err = statusAddr(cmd, g); err != nil {
					return err
				}
			}
			if len(args) == 1 {
				return showNodeTimeline(cmd.OutOrStdout(), addr, args[0], asJSON)
			}
			client := &http.Client{Timeout: 10 * time.Second}
			resp, err := client.Get("http://" + addr + "/api/v1/status")
			if err != nil {
				return fmt.Errorf("is the appliance running? %w", err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != http.StatusOK {
				return fmt.Errorf("status from %s: %s %v", addr, resp.Status, err)
			}
			if asJSON {
				_, err := cmd.OutOrStdout().Write(body)
				return err
			}
			var s status.Snapshot
			if err := json.Unmarshal(body, &s); err != nil {
				return fmt.Errorf("status from %s: %w", addr, err)
			}
			return writeStatus(cmd.OutOrStdout(), s)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the JSON API's answer")
	cmd.Flags().StringVar(&addr, "addr", "", "status listener, host:port (default: the lab file's status.listen; without a lab file, a running rehearsal's)")
	return cmd
}

func writeStatus(w io.Writer, s status.Snapshot) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	cluster := s.Cluster.Status
	if cluster == "" {
		cluster = "not registered"
	}
	fmt.Fprintf(tw, "%s: %s, %d%% installed\n", s.Lab.Zone, cluster, s.Cluster.Progress)
	if s.Lab.NeedsReprovision {
		fmt.Fprintf(tw, "NEEDS REPROVISION: %s changed\n", s.Lab.ReprovisionWhy)
	}
	fmt.Fprintln(tw, "\nSTEP\tSTATE\tATTEMPTS\tLAST ERROR")
	for _, st := range s.Steps {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", st.Name, st.State, st.Attempts, st.LastError)
	}
	fmt.Fprintln(tw, "\nNODE\tROLE\tPOWER\tBOOT\tHOST STATUS\tSTAGE")
	for _, n := range s.Nodes {
		role := n.Role
		if n.DPDK {
			role += "+dpdk"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", n.Name, role, dash(n.Power), dash(n.PXEProfile), dash(n.HostStatus), dash(n.HostStage))
	}
	for _, n := range s.Nodes {
		if n.NeedsAttention != "" {
			fmt.Fprintf(tw, "NEEDS ATTENTION: %s: %s\n", n.Name, n.NeedsAttention)
		}
		for _, r := range n.Remedies {
			fmt.Fprintf(tw, "remedy %s %s: %s: %s\n", r.Time.Format("15:04:05"), n.Name, r.Action, r.Reason)
		}
	}
	if len(s.Validations) > 0 {
		fmt.Fprintln(tw, "\nFAILING VALIDATION\tWHERE\tMESSAGE")
		for _, v := range s.Validations {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", v.ID, v.Scope, v.Message)
		}
	}
	if len(s.Events) > 0 {
		fmt.Fprintln(tw, "\nRECENT EVENTS")
		for i, e := range s.Events {
			if i == 10 {
				break
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Time.Local().Format("15:04:05"), strings.TrimSpace(e.Node+" "), e.Message)
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
