package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
)

// newLogger logs to w in format: text, json, journal (natively to the systemd journal, see
// journalHandler), or auto: journal when w is the stream systemd connected to the journal
// (JOURNAL_STREAM), text otherwise.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	if format == "auto" {
		format = "text"
		if f, ok := w.(*os.File); ok && isJournalStream(f) {
			format = "journal"
		}
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "journal":
		return slog.New(newJournalHandler(w, lv)), nil
	default:
		return nil, fmt.Errorf("--log-format %q: want auto, text, json or journal", format)
	}
}
