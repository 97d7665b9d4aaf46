package appliance

import (
	"github.com/cn2-appliance/cn2-appliance/pkg/bmc"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
)

// BMCConfig is the bmc driver configuration of a node: the lab's BMC block as it is, the node's
// name for errors and logs, and the password revealed for the driver that sends it. The per-try
// timeout is the lab's (nodes[].bmc.timeout); the tries and backoff are the bmc package's
// defaults.
func BMCConfig(n config.Node) bmc.Config {
	b := n.BMC
	return bmc.Config{
		Node:        n.Name,
		Driver:      b.Driver,
		Address:     b.Address,
		Port:        b.Port,
		Username:    b.Username,
		Password:    string(b.Password.Reveal()),
		Insecure:    b.Insecure,
		SystemID:    b.SystemID,
		CipherSuite: b.CipherSuite,
		URI:         b.URI,
		Domain:      b.Domain,
		Timeout:     b.Timeout.D(),
	}
}
