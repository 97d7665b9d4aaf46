package flow

import (
	"reflect"
	"testing"
)

func TestMergeOverrides(t *testing.T) {
	base := map[string]any{
		"networking": map[string]any{"machineNetwork": []any{"x"}, "networkType": "OVNKubernetes"},
		"fips":       true,
	}
	got := mergeOverrides(base, networkTypeOverride)
	want := map[string]any{
		"networking": map[string]any{"machineNetwork": []any{"x"}, "networkType": "Contrail"},
		"fips":       true,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("merge = %v, want %v", got, want)
	}
	if base["networking"].(map[string]any)["networkType"] != "OVNKubernetes" {
		t.Error("the merge changed its input")
	}
	if got := mergeOverrides(nil, networkTypeOverride); !reflect.DeepEqual(got, networkTypeOverride) {
		t.Errorf("merge into nothing = %v", got)
	}
}
