package verify

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"

	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"go.yaml.in/yaml/v3"
)

// Expect is what the lab says the cluster must look like.
type Expect struct {
	// Nodes are the lab's nodes, with the labels the installer was asked to set on them
	// (DPDK workers' labels and the lab's own).
	Nodes []ExpectedNode
	// CN2Namespaces are the namespaces the CN2 manifests create.
	CN2Namespaces []string
	// DNS is the appliance's name server, for the hints ("" address: none given).
	DNS netip.AddrPort
}

// ExpectedNode is one lab node as the cluster must have it.
type ExpectedNode struct {
	Name   string
	Labels []config.Label
}

// ExpectFor derives the expectations from a validated lab: its nodes (config.ExpectedHosts),
// the CN2 namespaces from the manifests under manifestsDir, and the appliance's DNS on the
// machine network.
func ExpectFor(lab *config.Lab) (Expect, error) {
	var e Expect
	for _, h := range lab.ExpectedHosts() {
		e.Nodes = append(e.Nodes, ExpectedNode{Name: h.Name, Labels: h.Labels})
	}
	ns, err := manifestNamespaces(lab)
	if err != nil {
		return Expect{}, err
	}
	e.CN2Namespaces = ns
	e.DNS = ApplianceDNS(lab)
	return e, nil
}

// ApplianceDNS is where the appliance's DNS answers on the machine network.
func ApplianceDNS(lab *config.Lab) netip.AddrPort {
	if mn := lab.MachineNetwork(); mn != nil {
		return netip.AddrPortFrom(mn.Address, uint16(lab.DNS.Port))
	}
	return netip.AddrPort{}
}

// manifestNamespaces lists the names of the kind: Namespace objects in the lab's manifests,
// sorted. JSON manifests parse as YAML; a document that parses as neither is skipped (the
// installer reports it).
func manifestNamespaces(lab *config.Lab) ([]string, error) {
	var out []string
	for _, rel := range lab.Cluster.Manifests {
		raw, err := os.ReadFile(filepath.Join(lab.Cluster.ManifestsDir, rel))
		if err != nil {
			return nil, fmt.Errorf("verify: read manifest %s: %w", rel, err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		for {
			var doc struct {
				Kind     string `yaml:"kind"`
				Metadata struct {
					Name string `yaml:"name"`
				} `yaml:"metadata"`
			}
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				break
			}
			if doc.Kind == "Namespace" && doc.Metadata.Name != "" && !slices.Contains(out, doc.Metadata.Name) {
				out = append(out, doc.Metadata.Name)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}
