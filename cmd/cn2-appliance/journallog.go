package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/journal"
)

// journalHandler sends each record to the systemd journal natively (go-systemd's journal.Send):
// PRIORITY= from the level, so `journalctl -p warning` finds warnings and errors; MESSAGE= the
// message followed by its attributes as key=value, as the text log reads; and every attribute
// as a field of its own, upper-cased (node → NODE=, mac → MAC=, a group g's key → G_KEY=), so
// `journalctl NODE=master-0` finds a node's lines. A record the journal refuses is written as
// text to fallback (stderr, which systemd connects to the journal too).
type journalHandler struct {
	level    slog.Leveler
	fallback io.Writer
	send     func(message string, p journal.Priority, fields map[string]string) error
	attrs    []journalAttr // from WithAttrs, already qualified by their groups
	group    string        // the open groups, "a.b." ("" for none)
}

type journalAttr struct{ key, value string }

func newJournalHandler(fallback io.Writer, level slog.Leveler) *journalHandler {
	return &journalHandler{level: level, fallback: fallback, send: journal.Send}
}

func (h *journalHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

func (h *journalHandler) Handle(_ context.Context, r slog.Record) error {
	attrs := append([]journalAttr(nil), h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		attrs = appendAttr(attrs, h.group, a)
		return true
	})
	var msg strings.Builder
	msg.WriteString(r.Message)
	fields := map[string]string{"SYSLOG_IDENTIFIER": "cn2-appliance"}
	for _, a := range attrs {
		fmt.Fprintf(&msg, " %s=%s", a.key, quoteIfNeeded(a.value))
		fields[journalField(a.key)] = a.value
	}
	if err := h.send(msg.String(), journalPriority(r.Level), fields); err != nil {
		_, werr := fmt.Fprintf(h.fallback, "%s %s %s (journal: %v)\n", r.Time.Format(time.RFC3339), r.Level, msg.String(), err)
		return werr
	}
	return nil
}

func (h *journalHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append([]journalAttr(nil), h.attrs...)
	for _, a := range as {
		c.attrs = appendAttr(c.attrs, h.group, a)
	}
	return &c
}

func (h *journalHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.group = h.group + name + "."
	return &c
}

// appendAttr flattens a (a group's attributes under "group.") and drops empty ones, as slog's
// own handlers do.
func appendAttr(out []journalAttr, prefix string, a slog.Attr) []journalAttr {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return out
	}
	if a.Value.Kind() == slog.KindGroup {
		if a.Key != "" {
			prefix += a.Key + "."
		}
		for _, g := range a.Value.Group() {
			out = appendAttr(out, prefix, g)
		}
		return out
	}
	v := a.Value.String()
	if a.Value.Kind() == slog.KindTime {
		v = a.Value.Time().Format(time.RFC3339Nano)
	}
	return append(out, journalAttr{key: prefix + a.Key, value: v})
}

// journalField makes an attribute key a journal field name: upper case, letters, digits and
// underscores, not starting with an underscore (those are journald's own). Names journald or
// this handler set (MESSAGE, PRIORITY, ...) get an ATTR_ prefix rather than overriding them.
func journalField(key string) string {
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		default:
			return '_'
		}
	}, key)
	name = strings.TrimLeft(name, "_")
	switch {
	case name == "", name[0] >= '0' && name[0] <= '9':
		name = "ATTR_" + name
	case name == "MESSAGE", name == "PRIORITY", name == "SYSLOG_IDENTIFIER", strings.HasPrefix(name, "CODE_"):
		name = "ATTR_" + name
	}
	return name
}

// journalPriority is the syslog priority of a level: debug 7, info 6, warn 4, error 3.
func journalPriority(l slog.Level) journal.Priority {
	switch {
	case l >= slog.LevelError:
		return journal.PriErr
	case l >= slog.LevelWarn:
		return journal.PriWarning
	case l >= slog.LevelInfo:
		return journal.PriInfo
	default:
		return journal.PriDebug
	}
}

func quoteIfNeeded(s string) string {
	if s == "" || strings.ContainsAny(s, " \"=\n\t") {
		return strconv.Quote(s)
	}
	return s
}

// isJournalStream says whether f is the journal's stream: systemd sets JOURNAL_STREAM to the
// device and inode of the stream it connects stdout/stderr to (systemd.exec(5)).
func isJournalStream(f *os.File) bool {
	dev, ino, ok := strings.Cut(os.Getenv("JOURNAL_STREAM"), ":")
	if !ok {
		return false
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return false
	}
	return strconv.FormatUint(uint64(st.Dev), 10) == dev && strconv.FormatUint(st.Ino, 10) == ino
}
