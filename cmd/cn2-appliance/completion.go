package main

import (
	"os"
	"strings"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

// powerVerbs are what `power NODE` takes, in the order its help lists them.
var powerVerbs = []string{"status", "on", "off", "cycle", "pxe", "disk", "cd", "insert", "eject", "probe"}

// addCompletions teaches the shell completion (cobra's `completion` command) the lab: `power
// <TAB>` offers the lab file's node names, then the verbs; `status <TAB>` the node names.
func addCompletions(root *cobra.Command, g *globalFlags) {
	for _, c := range root.Commands() {
		switch c.Name() {
		case "power":
			c.ValidArgsFunction = func(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
				switch len(args) {
				case 0:
					return labNodeNames(g.config), cobra.ShellCompDirectiveNoFileComp
				case 1:
					return powerVerbs, cobra.ShellCompDirectiveNoFileComp
				case 2:
					if args[1] == "insert" { // a URL, or for libvirt a file on the host
						return nil, cobra.ShellCompDirectiveDefault
					}
				}
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
		case "status":
			c.ValidArgsFunction = func(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
				if len(args) == 0 {
					return labNodeNames(g.config), cobra.ShellCompDirectiveNoFileComp
				}
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
		}
	}
}

// labNodeNames reads the node names of the lab file at path, and nothing else: completion
// must not fail on secret files the user cannot read, nor print problems. None when the file
// cannot be read.
func labNodeNames(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var lab struct {
		Nodes []struct {
			Name string `yaml:"name"`
		} `yaml:"nodes"`
	}
	if yaml.Unmarshal(b, &lab) != nil {
		return nil
	}
	var names []string
	for _, n := range lab.Nodes {
		if n.Name = strings.TrimSpace(n.Name); n.Name != "" {
			names = append(names, n.Name)
		}
	}
	return names
}
