package imageref

import "testing"

func TestRegistry(t *testing.T) {
	for image, want := range map[string]string{
		"quay.io/openshift/origin:4.14":           "quay.io",
		"enterprise-hub.juniper.net/contrail/a:b": "enterprise-hub.juniper.net",
		"Enterprise-Hub.Juniper.net/contrail/x:1": "enterprise-hub.juniper.net",
		"registry.local:5000/contrail/agent:1":    "registry.local:5000",
		"localhost/foo":                           "localhost",
		"busybox":                                 "docker.io",
		"library/busybox:1.36":                    "docker.io",
		"Quay.IO/x":                               "quay.io",
	} {
		if got := Registry(image); got != want {
			t.Errorf("Registry(%q) = %q, want %q", image, got, want)
		}
	}
}

func TestLookupHost(t *testing.T) {
	for registry, want := range map[string]string{"docker.io": "registry-1.docker.io", "r.lab:5000": "r.lab", "quay.io": "quay.io"} {
		if got := LookupHost(registry); got != want {
			t.Errorf("LookupHost(%q) = %q, want %q", registry, got, want)
		}
	}
}
