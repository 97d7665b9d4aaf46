package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/config"
)

// pullSecretCheck reads the pull secret as the installer will: every auths entry's auth must
// decode to user:password (the real service refuses the cluster otherwise), and there must be
// entries for cloud.openshift.com, quay.io, registry.redhat.io and every registry the CN2
// manifests pull from (a missing Juniper registry entry shows up as the runbook's "image
// download failure" long after the install started). Messages name registries, never values.
var pullSecretCheck = Check{
	Name:    "pull-secret",
	Needs:   "the lab's pull secret and manifests",
	Timeout: 5 * time.Second,
	Run:     checkPullSecret,
}

// requiredRegistries need an entry in every OpenShift pull secret.
var requiredRegistries = []string{"cloud.openshift.com", "quay.io", "registry.redhat.io"}

func checkPullSecret(_ context.Context, env *Env) []Result {
	const target = "pull secret"
	const getNew = "download the pull secret again from https://console.redhat.com/openshift/install/pull-secret"
	var ps struct {
		Auths map[string]struct {
			Auth string `json:"auth"`
		} `json:"auths"`
	}
	if err := json.Unmarshal(env.Lab.Cluster.PullSecret.Reveal(), &ps); err != nil {
		return []Result{failure(target, getNew, "not a JSON object with \"auths\"")}
	}
	var out []Result
	have := map[string]bool{}
	keys := make([]string, 0, len(ps.Auths))
	for k := range ps.Auths {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		have[registryKey(k)] = true
		if why := config.BadRegistryAuth(ps.Auths[k].Auth); why != "" {
			out = append(out, failure(target+" "+k, getNew+" (or, for a registry you added, base64 of user:password: `printf %s user:password | base64 -w0`)",
				"the auth of %s %s; the installer refuses such a pull secret", k, why))
		}
	}
	regs, err := manifestRegistries(env.Lab)
	if err != nil {
		out = append(out, failure("manifests", "fix or remove the unreadable manifest", "cannot list the registries the manifests pull from: %v", err))
	}
	needed := slices.Clone(requiredRegistries)
	for _, r := range regs {
		if !slices.Contains(needed, r) {
			needed = append(needed, r)
		}
	}
	for _, r := range needed {
		if have[r] {
			continue
		}
		why := "every OpenShift pull secret has it"
		fix := getNew
		if !slices.Contains(requiredRegistries, r) {
			why = "the CN2 manifests pull images from it"
			fix = fmt.Sprintf("add an auths entry for %s (for Juniper's registry: the credentials from your CN2 entitlement) to the pull secret", r)
		}
		out = append(out, failure(target+" "+r, fix, "no entry for %s, and %s: image pulls from it will fail", r, why))
	}
	if len(out) == 0 {
		out = append(out, ok(target, "%d entries, all user:password; covers %s", len(keys), strings.Join(needed, ", ")))
	}
	return out
}

// registryKey is the registry host a pull secret key stands for ("https://quay.io/v1/" and
// "quay.io/org" are quay.io).
func registryKey(k string) string {
	k = strings.ToLower(k)
	k = strings.TrimPrefix(strings.TrimPrefix(k, "https://"), "http://")
	host, _, _ := strings.Cut(k, "/")
	return host
}
