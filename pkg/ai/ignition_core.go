package ai

import (
	"encoding/json"

	"github.com/coreos/ignition/v2/config/v3_2/types"
)

// CorePassword is an Ignition config that gives user core a password hash (crypt(3)), for
// console login on a node that hangs in the discovery image.
func CorePassword(hash string) types.Config {
	return types.Config{
		Ignition: types.Ignition{Version: IgnitionVersion},
		Passwd:   types.Passwd{Users: []types.PasswdUser{{Name: "core", PasswordHash: &hash}}},
	}
}

// CorePasswordFragment is CorePassword as raw Ignition JSON, a fragment for
// BuildIgnitionOverride.
func CorePasswordFragment(hash string) []byte {
	b, _ := json.Marshal(CorePassword(hash))
	return b
}

// AddSecret makes the client redact s from every error and log line it writes, as it does
// the pull secret and tokens (e.g. a password hash inside an ignition override).
func (c *Client) AddSecret(s string) { c.secrets.add(s) }
