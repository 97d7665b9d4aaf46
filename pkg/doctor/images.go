package doctor

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cn2-appliance/cn2-appliance/internal/imageref"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"go.yaml.in/yaml/v3"
)

// manifestRegistries lists the registry hosts that the CN2 manifests' images come from: the
// value of every "image" key (and keys ending in "Image") in every YAML document under
// manifestsDir, sorted. An image without a registry host is Docker Hub's (docker.io).
func manifestRegistries(lab *config.Lab) ([]string, error) {
	seen := map[string]bool{}
	for _, rel := range lab.Cluster.Manifests {
		path := filepath.Join(lab.Cluster.ManifestsDir, rel)
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read manifest %s: %w", rel, err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		for {
			var doc yaml.Node
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				// JSON manifests and YAML the installer takes are parsed alike; a file that is
				// neither is the installer's problem to report, not an image list.
				break
			}
			for _, img := range images(&doc) {
				seen[imageref.Registry(img)] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for r := range seen {
		out = append(out, r)
	}
	slices.Sort(out)
	return out, nil
}

// images walks a YAML node for image references.
func images(n *yaml.Node) []string {
	var out []string
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			out = append(out, images(c)...)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			key := strings.ToLower(k.Value)
			if v.Kind == yaml.ScalarNode && (key == "image" || strings.HasSuffix(key, "image")) && looksLikeImage(v.Value) {
				out = append(out, v.Value)
				continue
			}
			out = append(out, images(v)...)
		}
	}
	return out
}

func looksLikeImage(s string) bool {
	return s != "" && !strings.ContainsAny(s, " \t\n{}") && !strings.HasPrefix(s, "$")
}
