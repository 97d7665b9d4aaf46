package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/appliance"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/report"
	"github.com/spf13/cobra"
)

func newReportCmd(g *globalFlags) *cobra.Command {
	var out, addr string
	var withCredentials bool
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Collect the running appliance's run report into one file to hand on (no secrets; credentials only with --with-credentials)",
		Long: "Downloads the run report from the running appliance (/api/v1/report): the lab file, the plan, the flow's steps, " +
			"the event log, every node's timeline, the installer's cluster, infra env, hosts and logs, the doctor's last results, " +
			"DHCP leases, the manifests' checksums, the version and metrics. It holds no pull secret, token or BMC password. " +
			"With --with-credentials, the cluster's kubeconfig and kubeadmin password from the state folder are added (read " +
			"here, never sent over the network). The appliance also writes one into <state-dir>/reports when the install ends.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lab, err := config.Load(g.config)
			if err != nil {
				return err
			}
			if addr == "" {
				addr = lab.Status.Listen.String()
			}
			client := &http.Client{Timeout: 2 * time.Minute}
			resp, err := client.Get("http://" + addr + "/api/v1/report")
			if err != nil {
				return fmt.Errorf("is the appliance running? %w", err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != http.StatusOK {
				return fmt.Errorf("report from %s: %s %v %s", addr, resp.Status, err, bytes.TrimSpace(body))
			}
			if withCredentials {
				if body, err = addCredentials(body, lab, filepath.Join(g.stateDir, appliance.OutputDir)); err != nil {
					return err
				}
			}
			if err := os.WriteFile(out, body, 0o600); err != nil {
				return fmt.Errorf("report: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "run report written to %s (%d bytes)\n", out, len(body))
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "report.tar.gz", "file to write")
	cmd.Flags().StringVar(&addr, "addr", "", "status listener (default: the lab file's status.listen)")
	cmd.Flags().BoolVar(&withCredentials, "with-credentials", false, "add the cluster's kubeconfig and kubeadmin password (from the state folder)")
	return cmd
}

// addCredentials rewrites a bundle with the cluster's credentials from authDir added under
// auth/; the lab's own secrets stay out.
func addCredentials(bundle []byte, lab *config.Lab, authDir string) ([]byte, error) {
	parts, order, err := report.Read(bytes.NewReader(bundle))
	if err != nil {
		return nil, err
	}
	var ix report.Index
	if err := json.Unmarshal(parts[report.IndexName], &ix); err != nil {
		return nil, fmt.Errorf("report: %s: %w", report.IndexName, err)
	}
	ix.Parts, ix.WithCredentials = nil, true
	var buf bytes.Buffer
	b := report.New(&buf, ix, appliance.ReportSecrets(lab))
	for _, name := range order {
		if name != report.IndexName {
			if err := b.Add(name, parts[name]); err != nil {
				return nil, err
			}
		}
	}
	for _, name := range []string{"kubeconfig", "kubeadmin-password"} {
		data, err := os.ReadFile(filepath.Join(authDir, name))
		if errors.Is(err, os.ErrNotExist) {
			b.Miss("auth/"+name, fmt.Errorf("%s is not in %s: the install has not fetched it yet", name, authDir))
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		if err := b.Add("auth/"+name, data); err != nil {
			return nil, err
		}
	}
	if err := b.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
