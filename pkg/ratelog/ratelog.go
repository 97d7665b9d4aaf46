// Package ratelog keeps per-packet log lines from flooding the journal: a client on the
// fabric can send thousands of packets a second that each deserve the same warning. A
// Handler passes the first record of each message per interval and counts the others;
// at the end of the interval one more line of that message says how many were suppressed.
// It owns no goroutine: a timer fires once per interval while a message is being
// suppressed.
package ratelog

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// DefaultInterval is how often a message repeated by a flood is logged.
const DefaultInterval = 10 * time.Second

// SuppressedKey is the attribute of the line that ends an interval: the number of records
// of the same message (and level) that were not logged during it.
const SuppressedKey = "suppressed"

// Logger returns a logger whose records go to log's handler, rate-limited per message
// and level: for a service's per-packet and per-request warnings, not for its events.
func Logger(log *slog.Logger, interval time.Duration) *slog.Logger {
	return slog.New(NewHandler(log.Handler(), interval))
}

// NewHandler wraps inner so that records of the same message and level are passed at
// most once per interval (DefaultInterval if interval <= 0), plus one line at the end of
// an interval in which some were suppressed, carrying SuppressedKey and the attributes of
// one suppressed record. Handlers derived with WithAttrs and WithGroup share the limit.
func NewHandler(inner slog.Handler, interval time.Duration) *Handler {
	if interval <= 0 {
		interval = DefaultInterval
	}
	return &Handler{inner: inner, lim: &limiter{interval: interval, windows: map[key]*window{}}}
}

// Handler is a rate-limiting slog.Handler; see NewHandler.
type Handler struct {
	inner slog.Handler
	lim   *limiter
}

type limiter struct {
	interval time.Duration
	mu       sync.Mutex
	windows  map[key]*window
}

type key struct {
	level slog.Level
	msg   string
}

// window is one message's current interval.
type window struct {
	suppressed int
	example    slog.Record  // the first suppressed record
	handler    slog.Handler // the handler it came through (its attributes and groups)
}

// Enabled reports whether the wrapped handler handles level.
func (h *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

// WithAttrs returns a handler with attrs that shares this one's limit.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &Handler{inner: h.inner.WithAttrs(attrs), lim: h.lim}
}

// WithGroup returns a handler with the group that shares this one's limit.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{inner: h.inner.WithGroup(name), lim: h.lim}
}

// Handle passes r on if its message has not been logged in this interval, else counts it.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	k := key{r.Level, r.Message}
	l := h.lim
	l.mu.Lock()
	w := l.windows[k]
	if w == nil {
		// The first of its kind: logged, and it opens an interval.
		w = &window{}
		l.windows[k] = w
		time.AfterFunc(l.interval, func() { l.end(k) })
		l.mu.Unlock()
		return h.inner.Handle(ctx, r)
	}
	if w.suppressed == 0 {
		w.example, w.handler = r.Clone(), h.inner
	}
	w.suppressed++
	l.mu.Unlock()
	return nil
}

// end closes k's interval: a line with the suppressed count if there were any, and then
// a new interval (the flood may go on); a quiet interval ends the message's window.
func (l *limiter) end(k key) {
	l.mu.Lock()
	w := l.windows[k]
	if w == nil {
		l.mu.Unlock()
		return
	}
	if w.suppressed == 0 {
		delete(l.windows, k)
		l.mu.Unlock()
		return
	}
	n, ex, h := w.suppressed, w.example, w.handler
	w.suppressed, w.example, w.handler = 0, slog.Record{}, nil
	time.AfterFunc(l.interval, func() { l.end(k) })
	l.mu.Unlock()

	r := slog.NewRecord(time.Now(), ex.Level, ex.Message, ex.PC)
	ex.Attrs(func(a slog.Attr) bool {
		r.AddAttrs(a)
		return true
	})
	r.AddAttrs(slog.Int(SuppressedKey, n), slog.Duration("interval", l.interval))
	_ = h.Handle(context.Background(), r)
}
