package flow

import (
	"encoding/json"
	"slices"

	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
)

// Debug access to a node that hangs in discovery: the lab's kernel arguments on the
// discovery image (the infra env's kernel_arguments), and a password for user core in its
// ignition override.

// discoveryKernelArguments are the lab's discovery kernel arguments as the infra env takes them.
func discoveryKernelArguments(lab *config.Lab) []ai.KernelArgument {
	out := []ai.KernelArgument{}
	for _, a := range lab.Cluster.DiscoveryKernelArguments {
		out = append(out, ai.KernelArgument{Operation: "append", Value: a})
	}
	return out
}

// kernelArgumentsAre says whether the infra env already has exactly want.
func kernelArgumentsAre(ie *ai.InfraEnv, want []ai.KernelArgument) bool {
	var got []ai.KernelArgument
	if ie.KernelArguments != nil && *ie.KernelArguments != "" {
		if json.Unmarshal([]byte(*ie.KernelArguments), &got) != nil {
			return false
		}
	}
	return slices.Equal(got, want)
}

// discoveryIgnition is the discovery image's ignition override: the CN2 certificate patch,
// the lab's ignition files, and the core user's password hash when the lab gives one.
func (f *Flow) discoveryIgnition() (string, error) {
	c := f.d.Lab.Cluster
	fragments := slices.Clone(c.Ignition)
	if c.DiscoveryPasswordHash.IsSet() {
		hash := string(c.DiscoveryPasswordHash.Reveal())
		f.d.AI.AddSecret(hash)
		fragments = append(fragments, ai.CorePasswordFragment(hash))
	}
	return ai.BuildIgnitionOverride(true, fragments...)
}
