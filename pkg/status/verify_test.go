package status

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestVerifySection(t *testing.T) {
	snap := sample()
	snap.Verify = &Verify{Time: snap.Time, Summary: "1 not right yet (5 nodes, 30 cluster operators, 80/81 pods Running or Succeeded (9 CN2))",
		Problems: []VerifyProblem{{Kind: "pod", Object: "contrail/contrail-control-0", CN2: true, Reason: "ImagePullBackOff",
			Message: `container main: Back-off pulling image "enterprise-hub.juniper.net/contrail/control:23.4"`,
			Image:   "enterprise-hub.juniper.net/contrail/control:23.4", Registry: "enterprise-hub.juniper.net",
			Hint: "check the pull secret's entry for enterprise-hub.juniper.net"}},
		CN2Pods: []VerifyPod{{Namespace: "contrail", Name: "contrail-control-0", Node: "master-0", Status: "ImagePullBackOff"}},
	}
	srv := serve(t, Options{Source: func() Snapshot { return snap }})
	_, body := get(t, srv.URL+"/")
	for _, want := range []string{`id="verify" data-passed="false"`, "not right yet", "contrail/contrail-control-0</span> (CN2)",
		"from <strong>enterprise-hub.juniper.net</strong>", "check the pull secret&#39;s entry for enterprise-hub.juniper.net", `id="verify-cn2-pods"`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	_, body = get(t, srv.URL+"/api/v1/status")
	var s Snapshot
	if err := json.Unmarshal([]byte(body), &s); err != nil || s.Verify == nil || s.Verify.Passed || len(s.Verify.Problems) != 1 ||
		s.Verify.Problems[0].Registry != "enterprise-hub.juniper.net" || len(s.Verify.CN2Pods) != 1 {
		t.Errorf("/api/v1/status verify: %v %+v", err, s.Verify)
	}
}

func TestNoVerifySectionBeforeTheFirst(t *testing.T) {
	srv := serve(t, Options{})
	if _, body := get(t, srv.URL+"/"); strings.Contains(body, `id="verify"`) {
		t.Error("page has a verify section before any verification")
	}
}
