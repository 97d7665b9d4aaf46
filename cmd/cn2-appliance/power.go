package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/appliance"
	"github.com/cn2-appliance/cn2-appliance/pkg/bmc"
	"github.com/spf13/cobra"
)

type powerFlags struct {
	graceful   bool
	persistent bool
	uefi       bool
	legacy     bool
	timeout    time.Duration
}

func newPowerCmd(g *globalFlags) *cobra.Command {
	f := &powerFlags{}
	cmd := &cobra.Command{
		Use:   "power NODE status|on|off|cycle|pxe|disk|cd|http URL|insert URL|eject|probe",
		Short: "Control a node's power, next boot device and virtual CD through its BMC, as the lab file says",
		Long: `Control a node through the BMC (redfish, ipmi) or hypervisor (libvirt) the lab file gives it.

  status        print on or off
  on, off       power on; power off (forced, or an ACPI shutdown with --graceful)
  cycle         restart the node, or power it on if it is off
  pxe, disk, cd boot from the network, the disk or the CD next (--persistent for every boot,
                --uefi or --legacy to set the firmware mode)
  http URL      UEFI HTTP boot from URL next (an EFI binary such as ipxe.efi, or an ISO), where
                the BMC offers it (Redfish UefiHttp with HttpBootUri)
  insert URL    attach the ISO at URL (libvirt: also a file on the host) as the virtual CD
  eject         detach the virtual CD
  probe         print vendor, model, firmware and what the BMC supports: for Redfish a table
                of power actions, boot targets, durations and modes, HTTP boot, virtual
                media, authentication and the fallbacks in effect`,
		Args: cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			log, lab, err := g.logAndLab(cmd)
			if err != nil {
				return err
			}
			node := lab.Node(args[0])
			if node == nil {
				var names []string
				for _, n := range lab.Nodes {
					names = append(names, n.Name)
				}
				return fmt.Errorf("no node %q in %s; the lab has %s", args[0], g.config, strings.Join(names, ", "))
			}
			cfg := appliance.BMCConfig(*node)
			if f.timeout > 0 {
				cfg.Timeout = f.timeout
			}
			c, err := bmc.New(cfg, bmc.WithLogger(log))
			if err != nil {
				return err
			}
			defer c.Close()
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			return runPower(ctx, cmd.OutOrStdout(), c, f, args[1:])
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.graceful, "graceful", false, "off: ask the OS to shut down (ACPI) instead of cutting power")
	fl.BoolVar(&f.persistent, "persistent", false, "pxe, disk, cd, http: for every boot, not only the next one")
	fl.BoolVar(&f.uefi, "uefi", false, "pxe, disk, cd, http: boot in UEFI mode")
	fl.BoolVar(&f.legacy, "legacy", false, "pxe, disk, cd, http: boot in legacy BIOS mode")
	fl.DurationVar(&f.timeout, "timeout", 0, "time limit of one attempt (default 30s)")
	return cmd
}

func runPower(ctx context.Context, out io.Writer, c *bmc.Client, f *powerFlags, args []string) error {
	action, rest := args[0], args[1:]
	wantArgs := 0
	if action == "insert" || action == "http" {
		wantArgs = 1
	}
	if len(rest) != wantArgs {
		if action == "http" {
			return errors.New("power NODE http URL: give the URL the firmware boots from")
		}
		if wantArgs == 1 {
			return errors.New("power NODE insert URL: give the ISO's URL")
		}
		return fmt.Errorf("power NODE %s takes no further argument", action)
	}
	if f.uefi && f.legacy {
		return errors.New("give --uefi or --legacy, not both")
	}
	node := c.Node()
	switch action {
	case "status":
		st, err := c.PowerState(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s: %s\n", node, st)
		return nil
	case "probe":
		info, err := c.Probe(ctx)
		if err != nil {
			return err
		}
		caps := make([]string, len(info.Capabilities))
		for i, cp := range info.Capabilities {
			caps[i] = string(cp)
		}
		fmt.Fprintf(out, "%s: driver %s, vendor %s, model %s, firmware %s, system %s\n%s: supports %s\n",
			node, info.Driver, info.Vendor, info.Model, info.Firmware, info.System, node, strings.Join(caps, ", "))
		printCapabilities(out, info)
		return nil
	}
	var err error
	switch action {
	case "on":
		err = c.PowerOn(ctx)
	case "off":
		err = c.PowerOff(ctx, !f.graceful)
	case "cycle":
		err = c.PowerCycle(ctx)
	case "pxe", "disk", "cd", "http":
		o := bmc.BootOptions{Device: bmc.BootDevice(action), Persistent: f.persistent}
		if action == "http" {
			o.HTTPBootURI = rest[0]
		}
		if f.uefi {
			o.Mode = bmc.BootModeUEFI
		} else if f.legacy {
			o.Mode = bmc.BootModeLegacy
		}
		err = c.SetBootDevice(ctx, o)
	case "insert":
		err = c.InsertMedia(ctx, rest[0])
	case "eject":
		err = c.EjectMedia(ctx)
	default:
		return fmt.Errorf("unknown action %q; want status, on, off, cycle, pxe, disk, cd, http URL, insert URL, eject or probe", action)
	}
	if err != nil {
		return err
	}
	shown := slices.Clone(args)
	if u, err := url.Parse(shown[len(shown)-1]); err == nil && u.User != nil {
		shown[len(shown)-1] = u.Redacted() // an ISO URL may carry credentials
	}
	fmt.Fprintf(out, "%s: %s: done\n", node, strings.Join(shown, " "))
	return nil
}
