package flow

import (
	"strings"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
)

// TestBootImage: the identity changes with the infra env and with what its image is built
// from, not with a re-signed download URL.
func TestBootImage(t *testing.T) {
	exp := time.Date(2024, 5, 1, 14, 0, 0, 0, time.UTC)
	base := ai.InfraEnv{ID: "ie1", OpenshiftVersion: "4.14", CPUArchitecture: "x86_64", Type: "full-iso",
		IgnitionConfigOverride: `{"ignition":{"version":"3.2.0"}}`, UpdatedAt: exp.Add(-4 * time.Hour), ExpiresAt: &exp,
		DownloadURL: "https://img/images/ie1?image_token=one"}
	id := bootImage(&base)
	if !strings.HasPrefix(id, "ie1 4.14 x86_64 full-iso ") {
		t.Errorf("identity %q", id)
	}
	resigned := base
	later := exp.Add(4 * time.Hour)
	resigned.UpdatedAt, resigned.ExpiresAt, resigned.DownloadURL = exp, &later, "https://img/images/ie1?image_token=two"
	if got := bootImage(&resigned); got != id {
		t.Errorf("a re-signed URL changed the identity: %q, was %q", got, id)
	}
	kargs := `["console=ttyS0"]`
	for name, change := range map[string]func(*ai.InfraEnv){
		"infra env":         func(ie *ai.InfraEnv) { ie.ID = "ie2" },
		"version":           func(ie *ai.InfraEnv) { ie.OpenshiftVersion = "4.15" },
		"image type":        func(ie *ai.InfraEnv) { ie.Type = "minimal-iso" },
		"ignition override": func(ie *ai.InfraEnv) { ie.IgnitionConfigOverride = `{"ignition":{"version":"3.2.0"},"storage":{}}` },
		"kernel arguments":  func(ie *ai.InfraEnv) { ie.KernelArguments = &kargs },
	} {
		ie := base
		change(&ie)
		if bootImage(&ie) == id {
			t.Errorf("a new %s kept the identity %q", name, id)
		}
	}
}
