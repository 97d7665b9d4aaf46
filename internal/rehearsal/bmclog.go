package rehearsal

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/bmc"
)

// bmcWarning is a warning the BMC client logged about a power action on a node: how its retry
// policy dealt with a failed try (a lost or late reply).
type bmcWarning struct {
	at         time.Time
	node, what string
}

// bmcWarnings keeps the BMC clients' warnings about power actions, for the fault summary,
// and passes every record on to the rehearsal's log.
type bmcWarnings struct {
	next  slog.Handler
	attrs []slog.Attr // from WithAttrs
	log   *bmcLog
}

type bmcLog struct {
	mu   sync.Mutex
	list []bmcWarning
}

func newBMCWarnings(next slog.Handler) *bmcWarnings { return &bmcWarnings{next: next, log: &bmcLog{}} }

var powerOps = map[string]bool{bmc.OpPowerCycle: true, bmc.OpPowerOn: true, bmc.OpPowerOff: true, bmc.OpPowerOffForce: true}

func (h *bmcWarnings) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn || h.next.Enabled(ctx, l)
}

func (h *bmcWarnings) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		var node, op, decided, errText string
		visit := func(a slog.Attr) bool {
			switch a.Key {
			case "node":
				node = a.Value.String()
			case "op":
				op = a.Value.String()
			case "decided":
				decided = a.Value.String()
			case "err":
				errText = a.Value.String()
			}
			return true
		}
		for _, a := range h.attrs {
			visit(a)
		}
		r.Attrs(visit)
		if powerOps[op] && node != "" {
			what := strings.TrimPrefix(r.Message, "bmc: ") + ": " + op
			if decided != "" {
				what += ": " + decided
			} else if errText != "" {
				what += ": " + errText
			}
			h.log.mu.Lock()
			h.log.list = append(h.log.list, bmcWarning{at: r.Time, node: node, what: what})
			h.log.mu.Unlock()
		}
	}
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h *bmcWarnings) WithAttrs(as []slog.Attr) slog.Handler {
	return &bmcWarnings{next: h.next.WithAttrs(as), attrs: append(append([]slog.Attr(nil), h.attrs...), as...), log: h.log}
}

func (h *bmcWarnings) WithGroup(name string) slog.Handler {
	return &bmcWarnings{next: h.next.WithGroup(name), attrs: h.attrs, log: h.log}
}

func (h *bmcWarnings) warnings() []bmcWarning {
	h.log.mu.Lock()
	defer h.log.mu.Unlock()
	return append([]bmcWarning(nil), h.log.list...)
}
