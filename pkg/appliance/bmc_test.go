package appliance

import (
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/config"
)

func TestBMCConfigTimeout(t *testing.T) {
	lab := exampleLab(t)
	for _, n := range lab.Nodes {
		if got := BMCConfig(n).Timeout; got != config.DefaultBMCTimeout.D() {
			t.Errorf("%s: timeout %s, want the lab default %s", n.Name, got, config.DefaultBMCTimeout.D())
		}
	}
	n := lab.Nodes[0]
	n.BMC.Timeout = config.Duration(25 * time.Second)
	if got := BMCConfig(n).Timeout; got != 25*time.Second {
		t.Errorf("timeout %s, want the node's 25s", got)
	}
}
