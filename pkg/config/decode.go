package config

import (
	"encoding"
	"fmt"
	"net/netip"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// decoder maps a YAML node tree onto the schema structs strictly: unknown and duplicate keys,
// wrong kinds and unparsable scalars are problems, all of them reported, each with its position
// and key path. It is hand-rolled over yaml.Node because yaml.v3's own strict mode stops at the
// first unknown key and knows neither key paths nor the valid alternatives.
type decoder struct {
	ps *problems
}

var textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// decodeYAML parses data and decodes it into out (a pointer to a struct). It returns false
// when the file is not YAML at all, so there is nothing to validate.
func decodeYAML(ps *problems, data []byte, out any) bool {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		msg := err.Error()
		line := 0
		if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
		}
		ps.list = append(ps.list, Problem{File: ps.file, Pos: Position{Line: line, Column: 1}, Message: "not valid YAML: " + strings.TrimPrefix(msg, "yaml: ")})
		return false
	}
	if len(root.Content) == 0 {
		ps.errorf("", "the file is empty; a lab file needs at least cluster, networks and nodes")
		return false
	}
	d := decoder{ps: ps}
	d.decode(root.Content[0], reflect.ValueOf(out).Elem(), "")
	return root.Content[0].Kind == yaml.MappingNode
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	d.ps.pos[path] = Position{Line: n.Line, Column: n.Column}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // "key:" with no value keeps the default
	}
	if reflect.PointerTo(v.Type()).Implements(textUnmarshalerType) {
		if n.Kind != yaml.ScalarNode {
			d.ps.errorf(path, "want a single value, found %s", kindName(n))
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil || n.Value == "" {
			d.ps.errorf(path, "%s", scalarError(v.Type(), n.Value, err))
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.ps.errorf(path, "want a list, found %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		d.decode(n, p.Elem(), path)
		v.Set(p)
	case reflect.Interface: // free-form YAML (install-config overrides): decoded as yaml.v3 does
		var x any
		if err := n.Decode(&x); err != nil {
			d.ps.errorf(path, "%v", err)
			return
		}
		if x != nil {
			v.Set(reflect.ValueOf(x))
		}
	case reflect.String:
		if s, ok := d.scalar(n, path, "a string"); ok {
			v.SetString(s)
		}
	case reflect.Bool:
		if s, ok := d.scalar(n, path, "true or false"); ok {
			switch s {
			case "true":
				v.SetBool(true)
			case "false":
				v.SetBool(false)
			default:
				d.ps.errorf(path, "%q is not a boolean; want true or false", s)
			}
		}
	case reflect.Int, reflect.Int32, reflect.Int64:
		if s, ok := d.scalar(n, path, "a whole number"); ok {
			i, err := strconv.ParseInt(s, 10, v.Type().Bits())
			if err != nil {
				d.ps.errorf(path, "%q is not a whole number", s)
				return
			}
			v.SetInt(i)
		}
	default:
		panic(fmt.Sprintf("config: schema field %s has unsupported kind %s", path, v.Kind()))
	}
}

// scalarError words a failed scalar conversion; the standard library's own messages
// don't say what would be valid.
func scalarError(t reflect.Type, value string, err error) string {
	switch t {
	case reflect.TypeFor[netip.Addr]():
		return fmt.Sprintf("%q is not an IP address; want one like 172.16.0.100", value)
	case reflect.TypeFor[netip.Prefix]():
		return fmt.Sprintf("%q is not a CIDR; want an address and prefix length like 172.16.0.0/24", value)
	}
	if err == nil {
		return "an empty value is not valid here"
	}
	return err.Error()
}

func (d *decoder) scalar(n *yaml.Node, path, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.ps.errorf(path, "want %s, found %s", want, kindName(n))
		return "", false
	}
	return n.Value, true
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.ps.errorf(path, "want a mapping of keys, found %s", kindName(n))
		return
	}
	fields := map[string]int{}
	var names []string
	t := v.Type()
	for i := range t.NumField() {
		name := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if name == "" || name == "-" {
			continue
		}
		fields[name] = i
		names = append(names, name)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		keyPath := joinPath(path, key.Value)
		idx, ok := fields[key.Value]
		if !ok {
			d.ps.addAt(Position{Line: key.Line, Column: key.Column}, false, keyPath, "unknown key %q%s; valid keys here: %s", key.Value, suggest(key.Value, names), strings.Join(names, ", "))
			continue
		}
		if seen[key.Value] {
			d.ps.addAt(Position{Line: key.Line, Column: key.Column}, false, keyPath, "key %q appears twice", key.Value)
			continue
		}
		seen[key.Value] = true
		d.decode(val, v.Field(idx), keyPath)
	}
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.ps.errorf(path, "want a mapping of keys, found %s", kindName(n))
		return
	}
	if v.Type().Key().Kind() != reflect.String {
		panic(fmt.Sprintf("config: schema map %s needs string keys", path))
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		keyPath := joinPath(path, key.Value)
		if m.MapIndex(reflect.ValueOf(key.Value)).IsValid() {
			d.ps.addAt(Position{Line: key.Line, Column: key.Column}, false, keyPath, "key %q appears twice", key.Value)
			continue
		}
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(val, elem, keyPath)
		m.SetMapIndex(reflect.ValueOf(key.Value), elem)
	}
	v.Set(m)
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return fmt.Sprintf("%q", n.Value)
	}
}

// suggest returns ` (did you mean "x"?)` for the closest valid key, if one is close.
func suggest(key string, valid []string) string {
	best, bestDist := "", 3
	for _, v := range valid {
		if d := editDistance(strings.ToLower(key), strings.ToLower(v)); d < bestDist {
			best, bestDist = v, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func sortProblems(list []Problem) {
	sort.SliceStable(list, func(i, j int) bool {
		a, b := list[i].Pos, list[j].Pos
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
}
