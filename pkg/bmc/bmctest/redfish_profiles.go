package bmctest

import (
	"embed"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
)

// Vendor profiles are data, one file per shape (profiles/NAME.json):
//
//	{"description": "...",
//	 "options": {RedfishOptions fields: refusals the handler enforces},
//	 "rename":  {"/redfish/v1/Systems/437XR1138R2": "/redfish/v1/Systems/1", ...},
//	 "add":     {"/path": {document}, ...},
//	 "patch":   {"/path": {JSON merge patch, RFC 7396}, ...}}
//
// applied to the mockup in this order: rename (every path and link), the options' reshaping
// (media moved under the Manager, reset types), add, patch. Advertisements (AllowableValues,
// ActionInfo, the presence of a property) are enforced by the handler for every profile.
//
//go:embed profiles/*.json
var profileFS embed.FS

type profile struct {
	Description string                    `json:"description"`
	Options     json.RawMessage           `json:"options"`
	Rename      map[string]string         `json:"rename"`
	Add         map[string]map[string]any `json:"add"`
	Patch       map[string]map[string]any `json:"patch"`
}

// RedfishProfiles lists the vendor profiles with their descriptions.
func RedfishProfiles() map[string]string {
	out := map[string]string{}
	entries, _ := profileFS.ReadDir("profiles")
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".json")
		if p, err := readProfile(name); err == nil {
			out[name] = p.Description
		}
	}
	return out
}

// RedfishProfileNames lists the vendor profiles, sorted.
func RedfishProfileNames() []string {
	var names []string
	for n := range RedfishProfiles() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func readProfile(name string) (*profile, error) {
	b, err := profileFS.ReadFile(path.Join("profiles", name+".json"))
	if err != nil {
		return nil, fmt.Errorf("profile %q: %w (have %v)", name, err, RedfishProfileNames())
	}
	var p profile
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("profile %q: %w", name, err)
	}
	return &p, nil
}

// loadProfile reads the named profile (nil for none) and lays its options over opts.
func loadProfile(name string, opts *RedfishOptions) (*profile, error) {
	if name == "" {
		return nil, nil
	}
	p, err := readProfile(name)
	if err != nil {
		return nil, err
	}
	if len(p.Options) > 0 {
		if err := json.Unmarshal(p.Options, opts); err != nil {
			return nil, fmt.Errorf("profile %q: options: %w", name, err)
		}
	}
	return p, nil
}

// rename moves documents and rewrites every link to them.
func (r *Redfish) rename(p *profile) {
	if p == nil || len(p.Rename) == 0 {
		return
	}
	var pairs []string
	for from, to := range p.Rename {
		pairs = append(pairs, from, to)
	}
	re := strings.NewReplacer(pairs...)
	docs := map[string]map[string]any{}
	for k, doc := range r.docs {
		b, _ := json.Marshal(doc)
		var moved map[string]any
		_ = json.Unmarshal([]byte(re.Replace(string(b))), &moved)
		docs[re.Replace(k)] = moved
	}
	r.docs = docs
	r.sys, r.mgr = re.Replace(r.sys), re.Replace(r.mgr)
}

func (r *Redfish) applyProfile(p *profile) {
	if p != nil {
		for k, doc := range p.Add {
			r.docs[k] = doc
		}
		for k, patch := range p.Patch {
			if doc, ok := r.docs[k]; ok {
				mergePatch(doc, patch)
			} else {
				r.docs[k] = patch
			}
		}
	}
	r.cd = ""
	var paths []string
	for k, doc := range r.docs {
		if types, ok := doc["MediaTypes"].([]any); ok && (slices.Contains(types, any("CD")) || slices.Contains(types, any("DVD"))) {
			paths = append(paths, k)
		}
	}
	sort.Strings(paths)
	if len(paths) > 0 {
		r.cd = paths[0]
	}
}

// mergePatch applies an RFC 7396 merge patch: null deletes, objects merge, the rest replaces.
func mergePatch(dst, patch map[string]any) {
	for k, v := range patch {
		switch pv := v.(type) {
		case nil:
			delete(dst, k)
		case map[string]any:
			if dv, ok := dst[k].(map[string]any); ok {
				mergePatch(dv, pv)
				continue
			}
			dst[k] = pv
		default:
			dst[k] = v
		}
	}
}

// allowedValue checks s against the object's KEY@Redfish.AllowableValues, or against def
// when the object does not list them.
func allowedValue(obj map[string]any, key, s string, def ...string) bool {
	if allowed, ok := obj[key+"@Redfish.AllowableValues"].([]any); ok {
		return slices.Contains(allowed, any(s))
	}
	return slices.Contains(def, s)
}

// mediaParams enforces the options' refused and required insert parameters.
func (r *Redfish) mediaParams(body map[string]any) error {
	if img, _ := body["Image"].(string); img == "" {
		return nil // an eject
	}
	var refused []string
	for _, name := range r.opts.RefuseMediaParams {
		if _, sent := body[name]; sent {
			refused = append(refused, name)
		}
	}
	if len(refused) > 0 {
		return fmt.Errorf("Base.1.8.ActionParameterNotSupported: The parameters %s are not supported", strings.Join(refused, ", "))
	}
	for _, name := range r.opts.RequireMediaParams {
		if _, sent := body[name]; !sent {
			return fmt.Errorf("Base.1.8.ActionParameterMissing: The action requires the parameter %s", name)
		}
	}
	return nil
}

// checkInsert validates an InsertMedia body against the action's ActionInfo (unknown
// parameters, missing required ones, values not allowed) and the options; it returns the
// MessageId and message of the refusal, or "".
func (r *Redfish) checkInsert(media map[string]any, raw []byte) (id, msg string) {
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		return "Base.1.8.MalformedJSON", err.Error()
	}
	if err := r.mediaParams(body); err != nil {
		id, msg, _ := strings.Cut(err.Error(), ": ")
		return id, msg
	}
	actions, _ := media["Actions"].(map[string]any)
	action, _ := actions["#VirtualMedia.InsertMedia"].(map[string]any)
	infoPath, _ := action["@Redfish.ActionInfo"].(string)
	info, ok := r.docs[strings.TrimSuffix(infoPath, "/")]
	if !ok {
		return "", ""
	}
	params := map[string]map[string]any{}
	list, _ := info["Parameters"].([]any)
	for _, p := range list {
		if pm, ok := p.(map[string]any); ok {
			name, _ := pm["Name"].(string)
			params[name] = pm
		}
	}
	var unknown []string
	for name := range body {
		if _, ok := params[name]; !ok {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	if len(unknown) > 0 {
		return "Base.1.8.ActionParameterUnknown", "The parameters " + strings.Join(unknown, ", ") + " are not supported by " + infoPath
	}
	for name, p := range params {
		v, sent := body[name]
		if req, _ := p["Required"].(bool); req && !sent {
			return "Base.1.8.ActionParameterMissing", "The action requires the parameter " + name
		}
		if allowed, ok := p["AllowableValues"].([]any); ok && sent && !slices.Contains(allowed, v) {
			return "Base.1.8.ActionParameterValueNotInList", fmt.Sprintf("The value %v of %s is not allowed", v, name)
		}
	}
	return "", ""
}

// allow is the Allow header of a resource: PATCH where the fake takes it.
func (r *Redfish) allow(p string) string {
	switch {
	case p == r.sys || p == r.cdPath():
		return "GET, HEAD, PATCH"
	case p == sessionsPath:
		return "GET, HEAD, POST"
	case strings.HasPrefix(p, sessionsPath+"/"):
		return "GET, HEAD, DELETE"
	}
	return "GET, HEAD"
}

// SystemPath is the system's @odata.id.
func (r *Redfish) SystemPath() string { return r.sys }

// ManagerPath is its manager's @odata.id.
func (r *Redfish) ManagerPath() string { return r.mgr }

// CDPath is the CD-capable VirtualMedia's @odata.id.
func (r *Redfish) CDPath() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cdPath()
}

// HTTPBootURI is the system's Boot.HttpBootUri.
func (r *Redfish) HTTPBootURI() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, _ := r.docs[r.sys]["Boot"].(map[string]any)["HttpBootUri"].(string)
	return s
}

// CDTransferProtocol is the TransferProtocolType the last insert gave, if any.
func (r *Redfish) CDTransferProtocol() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, _ := r.docs[r.cdPath()]["TransferProtocolType"].(string)
	return s
}
