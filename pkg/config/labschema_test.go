package config_test

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/cn2-appliance/cn2-appliance/pkg/config/labschema"
)

const schemaFile = "../../" + labschema.File

// TestLabSchemaUpToDate regenerates the lab file's JSON Schema from the config types and fails
// when configs/lab.schema.json differs: a key was added or changed without regenerating it.
func TestLabSchemaUpToDate(t *testing.T) {
	want, err := labschema.Generate(".")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(schemaFile)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s is not what the config types generate (%v): run `%s`", labschema.File, err, labschema.Regenerate)
	}
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(labschema.ID, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(labschema.ID)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// yamlInstance is a YAML document as the JSON value a schema validates.
func yamlInstance(t *testing.T, src []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(src, &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

// TestExampleLabMatchesSchema: the example lab names the schema on its first line (for
// yaml-language-server) and is valid against it; labs with an unknown key, a bad MAC or an
// unknown role are not.
func TestExampleLabMatchesSchema(t *testing.T) {
	src, err := os.ReadFile("../../configs/lab.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if first, _, _ := strings.Cut(string(src), "\n"); first != "# yaml-language-server: $schema=lab.schema.json" {
		t.Errorf("the example's first line is %q, want the schema modeline", first)
	}
	s := compileSchema(t)
	if err := s.Validate(yamlInstance(t, src)); err != nil {
		t.Fatalf("the example lab does not match the schema: %v", err)
	}
	for _, tc := range []struct{ from, to, want string }{
		{"  baseDomain: contrail.lan", "  baseDomain: contrail.lan\n  baseDomian: typo.lan", "baseDomian"},
		{`mac: "52:54:00:00:00:11"`, `mac: "52:54:00:00:00"`, "/nodes/0/nics/0/mac"},
		{"role: worker", "role: infra", "/nodes/3/role"},
	} {
		if !strings.Contains(string(src), tc.from) {
			t.Fatalf("the example has no %q to break", tc.from)
		}
		bad := strings.Replace(string(src), tc.from, tc.to, 1)
		err := s.Validate(yamlInstance(t, []byte(bad)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q -> %q: %v, want an error at %s", tc.from, tc.to, err, tc.want)
		}
	}
}
