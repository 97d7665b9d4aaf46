package store

import (
	"encoding/json"
	"testing"
)

func TestAppendLogsKeepsNewestPerKey(t *testing.T) {
	s := openTemp(t)
	for i := range 5 {
		batch := map[string][]any{"master-0": {map[string]int{"n": 2 * i}, map[string]int{"n": 2*i + 1}}}
		if i < 2 {
			batch["worker-0"] = []any{map[string]int{"n": i}}
		}
		if err := s.AppendLogs("timeline", batch, 4); err != nil {
			t.Fatal(err)
		}
	}
	got := func(key string) []int {
		raw, err := s.Log("timeline", key)
		if err != nil {
			t.Fatal(err)
		}
		var out []int
		for _, r := range raw {
			var e struct{ N int }
			if err := json.Unmarshal(r, &e); err != nil {
				t.Fatal(err)
			}
			out = append(out, e.N)
		}
		return out
	}
	if g := got("master-0"); len(g) != 4 || g[0] != 6 || g[3] != 9 {
		t.Errorf("master-0 = %v, want the newest 4: [6 7 8 9]", g)
	}
	if g := got("worker-0"); len(g) != 2 || g[0] != 0 || g[1] != 1 {
		t.Errorf("worker-0 = %v, want [0 1]", g)
	}
	if g := got("nobody"); g != nil {
		t.Errorf("unknown key = %v, want nil", g)
	}
	keys, err := s.LogKeys("timeline")
	if err != nil || len(keys) != 2 || keys[0] != "master-0" || keys[1] != "worker-0" {
		t.Errorf("LogKeys = %v, %v", keys, err)
	}
	if keys, err := s.LogKeys("other"); err != nil || keys != nil {
		t.Errorf("LogKeys(other) = %v, %v", keys, err)
	}
	if err := s.AppendLogs("timeline", map[string][]any{"": {1}}, 4); err == nil {
		t.Error("an empty key was accepted")
	}
}
