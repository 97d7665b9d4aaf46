package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"text/tabwriter"

	"github.com/cn2-appliance/cn2-appliance/pkg/appliance"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/spf13/cobra"
)

func newPlanCmd(g *globalFlags) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Print what the appliance would serve and do for a lab file (secrets redacted)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lab, err := config.Load(g.config)
			if err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), err)
				return exitError{1}
			}
			p := appliance.NewPlan(lab)
			switch format {
			case "json":
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(p)
			case "text":
				return writePlanText(cmd.OutOrStdout(), p)
			default:
				return fmt.Errorf("-o %q: want text or json", format)
			}
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "text", "output format: text or json")
	return cmd
}

// writePlanText prints a plan for a reader.
func writePlanText(w io.Writer, p appliance.Plan) error {
	lab := p.Lab
	c := lab.Cluster
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Cluster %s (OpenShift %s), CN2 network type Contrail\n", lab.Zone(), c.OpenshiftVersion)
	fmt.Fprintf(tw, "  machine network %s, API VIP %s, ingress VIP %s\n", c.MachineNetwork, c.APIVIP, c.IngressVIP)
	fmt.Fprintf(tw, "  cluster network %s (/%d per node), service network %s\n", c.ClusterNetwork, c.HostPrefix, c.ServiceNetwork)
	fmt.Fprintf(tw, "  installer %s, image %s, %d manifests from %s\n", lab.AssistedInstaller.URL, lab.AssistedInstaller.ImageType, len(c.Manifests), c.ManifestsDir)

	for _, n := range lab.Networks {
		pool := "no pool"
		if n.Pool.IsSet() {
			pool = fmt.Sprintf("pool %s-%s", n.Pool.First, n.Pool.Last)
		}
		ntp := "no NTP server"
		if eps := p.NTPServers[n.Name]; len(eps) > 0 {
			ntp = "NTP " + joinEndpoints(eps)
		}
		fmt.Fprintf(tw, "\nDHCP on %s (%s, %s): appliance %s, %s, %s\n", n.Name, n.Interface, n.CIDR, n.Address, pool, ntp)
		fmt.Fprintln(tw, "  NODE\tMAC\tIP\tHOSTNAME")
		for _, r := range p.Reservations[n.Name] {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", r.Node, r.MAC, r.IP, r.Hostname)
		}
	}
	fmt.Fprintf(tw, "\n%s\n", ntpLine(lab))
	if p := lab.Proxy; p.Enabled() {
		fmt.Fprintf(tw, "\nProxy (cluster, discovery image, the appliance's calls): http %s, https %s\n", orNone(p.HTTPProxy), orNone(p.HTTPSProxy))
		if p.Password.IsSet() {
			fmt.Fprintln(tw, "  password from", secretSource(p.PasswordFile, string(p.PasswordEnv)))
		}
		for _, s := range p.TrustBundleSubjects {
			fmt.Fprintf(tw, "  trusts %s (%s)\n", s, p.TrustBundleFile)
		}
		fmt.Fprintf(tw, "  no proxy for %s\n", strings.Join(lab.NoProxy(), ", "))
	}
	for _, z := range p.DNSZones {
		fmt.Fprintf(tw, "\nDNS zone %s (NS %s)\n", z.Origin, z.NS)
		for _, r := range z.Records {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", r.Name, r.Type, r.Value)
		}
	}
	fmt.Fprintf(tw, "\nBoot plan (%s)\n", lab.Boot.Method)
	fmt.Fprintln(tw, "  WAVE\tNODE\tROLE\tBMC\tBOOT MAC\tLABELS")
	labels := map[string]string{}
	for _, h := range p.ExpectedHosts {
		var kv []string
		for _, l := range h.Labels {
			kv = append(kv, l.Key+"="+l.Value)
		}
		labels[h.Name] = strings.Join(kv, ",")
	}
	for _, b := range p.Boot {
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\n", b.Wave, b.Node, b.Role, b.Driver, b.MAC, labels[b.Node])
	}
	fmt.Fprintf(tw, "\nInstall steps\n")
	for i, s := range p.InstallSteps {
		fmt.Fprintf(tw, "  %2d. %s\n", i+1, s)
	}
	for _, warn := range lab.Warnings {
		fmt.Fprintf(tw, "\n%s", warn)
	}
	return tw.Flush()
}

// ntpLine says whether and how the appliance serves NTP.
func ntpLine(lab *config.Lab) string {
	if !lab.NTP.Serving() {
		return "NTP server: off (the nodes are handed the lab's own NTP servers)"
	}
	unsynced := "stratum 16 (ignored by the nodes) while it is not"
	if s := lab.NTP.LocalStratum; s > 0 {
		unsynced = fmt.Sprintf("local stratum %d while it is not (ntp.localStratum)", s)
	}
	return fmt.Sprintf("NTP server: the host clock on port %d of each network's appliance address; stratum 3 while the host is synchronised, %s", lab.NTP.Port, unsynced)
}

func joinEndpoints(eps []netip.AddrPort) string {
	s := make([]string, len(eps))
	for i, e := range eps {
		s[i] = e.String()
	}
	return strings.Join(s, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return config.RedactProxyURL(s)
}

func secretSource(file, env string) string {
	if file != "" {
		return file
	}
	return "${" + env + "}"
}
