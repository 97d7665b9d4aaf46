package flow

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
)

// bootImage identifies the discovery image of an infra env, for the boot cache: the infra
// env's id, then what the image is built from that can change in place (OpenShift version,
// architecture, image type, and a hash of the ignition override and kernel arguments).
// Anything else (pull secret, SSH key) changes only with a new infra env, hence a new id.
// updated_at and expires_at are left out on purpose: the service moves them when it
// re-signs the image URL, which changes neither the image nor the artifacts, and a new
// identity would throw away a download that can be resumed.
func bootImage(ie *ai.InfraEnv) string {
	kargs := ""
	if ie.KernelArguments != nil {
		kargs = *ie.KernelArguments
	}
	h := sha256.Sum256([]byte(ie.IgnitionConfigOverride + "\x00" + kargs))
	return strings.Join([]string{ie.ID, ie.OpenshiftVersion, ie.CPUArchitecture, ie.Type, hex.EncodeToString(h[:8])}, " ")
}
