package store

import (
	"encoding/json"
	"errors"
	"testing"
)

type pxeProfile struct {
	Mode  string `json:"mode"`
	Image string `json:"image,omitempty"`
}

func TestDocs(t *testing.T) {
	s := openTemp(t)
	type op struct {
		do        string // put, get, delete
		kind, key string
		val       pxeProfile // put: value; get: expected
		wantFound bool       // get
		wantErrIs error
	}
	for _, o := range []op{
		{do: "get", kind: "pxe", key: "52:54:00:00:00:11"}, // kind not created yet
		{do: "put", kind: "pxe", key: "52:54:00:00:00:11", val: pxeProfile{"discovery", "rhcos.iso"}},
		{do: "get", kind: "pxe", key: "52:54:00:00:00:11", val: pxeProfile{"discovery", "rhcos.iso"}, wantFound: true},
		{do: "put", kind: "pxe", key: "52:54:00:00:00:11", val: pxeProfile{Mode: "local"}}, // replace
		{do: "get", kind: "pxe", key: "52:54:00:00:00:11", val: pxeProfile{Mode: "local"}, wantFound: true},
		{do: "get", kind: "flow", key: "52:54:00:00:00:11"}, // kinds are separate
		{do: "put", kind: "pxe", key: "52:54:00:00:00:12", val: pxeProfile{Mode: "discovery"}},
		{do: "delete", kind: "pxe", key: "52:54:00:00:00:11"},
		{do: "delete", kind: "pxe", key: "52:54:00:00:00:11"}, // again: no error
		{do: "delete", kind: "nokind", key: "x"},
		{do: "get", kind: "pxe", key: "52:54:00:00:00:11"},
		{do: "get", kind: "pxe", key: "52:54:00:00:00:12", val: pxeProfile{Mode: "discovery"}, wantFound: true},
		{do: "put", kind: "", key: "x", wantErrIs: ErrInvalid},
		{do: "put", kind: "pxe", key: "", wantErrIs: ErrInvalid},
	} {
		var err error
		switch o.do {
		case "put":
			err = s.PutDoc(o.kind, o.key, o.val)
		case "delete":
			err = s.DeleteDoc(o.kind, o.key)
		case "get":
			var got pxeProfile
			var found bool
			found, err = s.GetDoc(o.kind, o.key, &got)
			if found != o.wantFound || got != o.val {
				t.Errorf("GetDoc(%s, %s) = %+v, %v; want %+v, %v", o.kind, o.key, got, found, o.val, o.wantFound)
			}
		}
		if !errors.Is(err, o.wantErrIs) {
			t.Errorf("%s %s %q: error %v, want %v", o.do, o.kind, o.key, err, o.wantErrIs)
		}
	}

	docs, err := s.Docs("pxe")
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 1 || string(docs["52:54:00:00:00:12"]) != `{"mode":"discovery"}` {
		t.Errorf("Docs(pxe) = %s", docs)
	}
	if docs, err := s.Docs("nokind"); err != nil || docs == nil || len(docs) != 0 {
		t.Errorf("Docs(nokind) = %v, %v; want an empty map", docs, err)
	}
}

func TestDocErrors(t *testing.T) {
	s := openTemp(t)
	if err := s.PutDoc("flow", "x", func() {}); err == nil {
		t.Error("PutDoc of an unencodable value succeeded")
	}
	must(t, s.PutDoc("flow", "state", map[string]string{"step": "install"}))
	var wrong int
	if _, err := s.GetDoc("flow", "state", &wrong); err == nil {
		t.Error("GetDoc into the wrong type succeeded")
	}
	var raw json.RawMessage
	if ok, err := s.GetDoc("flow", "state", &raw); err != nil || !ok || string(raw) != `{"step":"install"}` {
		t.Errorf("GetDoc raw = %s, %v, %v", raw, ok, err)
	}
}
