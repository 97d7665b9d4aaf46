package status

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

//go:embed assets
var assets embed.FS

var page = template.Must(template.New("index.html.tmpl").Funcs(template.FuncMap{
	"ago":      ago,
	"duration": duration,
	"inc":      func(i int) int { return i + 1 },
	"lower":    strings.ToLower,
}).ParseFS(assets, "assets/index.html.tmpl"))

// Source returns the current snapshot; it must be cheap and safe to call concurrently.
type Source func() Snapshot

// Handler serves the status page, the JSON API, metrics and health checks.
type Handler struct {
	mux *http.ServeMux
}

// Options configure NewHandler.
type Options struct {
	Source   Source
	Gatherer prometheus.Gatherer // for /metrics
	// Ready reports whether every service is up and serving (for /readyz); nil: always ready.
	Ready func() error
	// Healthy reports whether every long-running loop is alive (for /healthz); nil: always.
	Healthy func() error
	// RefreshSeconds is how often the page reloads itself (default 5).
	RefreshSeconds int
	Log            *slog.Logger
	// Timelines are the nodes' milestones, drawn on the page and served per node; nil: none.
	Timelines Timelines
	// Report writes the run report (a gzipped tar) for /api/v1/report; nil: not served.
	Report func(ctx context.Context, w io.Writer) error
}

// NewHandler builds the HTTP handler. Only GET and HEAD are served.
func NewHandler(o Options) *Handler {
	if o.RefreshSeconds <= 0 {
		o.RefreshSeconds = 5
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	static, _ := fs.Sub(assets, "assets/static")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		snap := o.Source()
		data := struct {
			Snapshot
			Refresh  int
			Times    InstallTimes
			Timeline template.HTML
			Report   bool
		}{snap, o.RefreshSeconds, installTimes(snap), "", o.Report != nil}
		if o.Timelines != nil {
			data.Timeline = renderTimeline(snap, o.Timelines.All())
		}
		if err := page.Execute(w, data); err != nil {
			o.Log.Error("status: render page", "err", err)
		}
	})
	mux.HandleFunc("GET /api/v1/status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(o.Source())
	})
	mux.HandleFunc("GET /api/v1/nodes/{name}/timeline", serveNodeTimeline(o.Source, o.Timelines))
	if o.Report != nil {
		mux.HandleFunc("GET /api/v1/report", serveReport(o.Report, o.Log))
	}
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.Handle("GET /metrics", promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{ErrorLog: slogErrorLog{o.Log}}))
	mux.HandleFunc("GET /healthz", check(o.Healthy, "ok", "unhealthy"))
	mux.HandleFunc("GET /readyz", check(o.Ready, "ready", "not ready"))
	return &Handler{mux: mux}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	// No scripts and nothing from elsewhere; style attributes are allowed because the progress
	// bars are sized by one (style="width: 42%").
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src-attr 'unsafe-inline'")
	h.mux.ServeHTTP(w, r)
}

// check serves 200 with ok while probe returns nil, else 503 with why (one line per reason).
func check(probe func() error, ok, notOK string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if probe != nil {
			if err := probe(); err != nil {
				http.Error(w, notOK+": "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		fmt.Fprintln(w, ok)
	}
}

type slogErrorLog struct{ log *slog.Logger }

func (l slogErrorLog) Println(v ...any) { l.log.Error("status: metrics: " + fmt.Sprint(v...)) }

// duration renders a step's duration: milliseconds under a second (most steps take a few),
// whole seconds above.
func duration(d time.Duration) string {
	if d < time.Millisecond {
		return "<1ms"
	}
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// ago renders how long ago t was, for humans.
func ago(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := time.Since(t).Round(time.Second)
	if d < 0 {
		return "in " + (-d).String()
	}
	return d.String() + " ago"
}
