package config

import (
	"fmt"
	"strings"
)

// Position is a place in a lab file; lines and columns count from 1.
type Position struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

// Problem is one finding about a lab file: where it is, which key, and what is wrong.
type Problem struct {
	File    string   `json:"file"`
	Pos     Position `json:"position"`
	Path    string   `json:"path"` // key path, e.g. nodes[3].nics[1].mac; empty for the whole file
	Message string   `json:"message"`
	Warning bool     `json:"warning,omitempty"`
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Pos.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", p.Pos.Line, p.Pos.Column)
	}
	b.WriteString(": ")
	if p.Warning {
		b.WriteString("warning: ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Error is returned when a lab file has errors; it carries every one of them, in file order.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// problems collects findings while a file is decoded and validated.
type problems struct {
	file string
	pos  map[string]Position // key path -> where its value starts
	list []Problem
}

func (ps *problems) add(warning bool, path, format string, args ...any) {
	ps.addAt(ps.at(path), warning, path, format, args...)
}

func (ps *problems) addAt(pos Position, warning bool, path, format string, args ...any) {
	ps.list = append(ps.list, Problem{
		File:    ps.file,
		Pos:     pos,
		Path:    path,
		Message: fmt.Sprintf(format, args...),
		Warning: warning,
	})
}

func (ps *problems) errorf(path, format string, args ...any) { ps.add(false, path, format, args...) }
func (ps *problems) warnf(path, format string, args ...any)  { ps.add(true, path, format, args...) }

// at finds the position of path, or of its nearest ancestor that appears in the file
// (a missing key is reported where its parent is).
func (ps *problems) at(path string) Position {
	for {
		if p, ok := ps.pos[path]; ok {
			return p
		}
		if path == "" {
			return Position{}
		}
		path = parentPath(path)
	}
}

func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

func (ps *problems) errors() []Problem {
	var out []Problem
	for _, p := range ps.list {
		if !p.Warning {
			out = append(out, p)
		}
	}
	return out
}

func (ps *problems) warnings() []Problem {
	var out []Problem
	for _, p := range ps.list {
		if p.Warning {
			out = append(out, p)
		}
	}
	return out
}
