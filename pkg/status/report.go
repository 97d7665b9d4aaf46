package status

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// serveReport answers /api/v1/report with a run report, built in memory first so that a
// failure is an error status and not half an archive. It never holds credentials (the CLI adds
// them locally with --with-credentials).
func serveReport(write func(ctx context.Context, w io.Writer) error, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		if err := write(r.Context(), &buf); err != nil {
			log.Error("status: run report", "err", err)
			http.Error(w, "run report: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/gzip")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Disposition", `attachment; filename="cn2-appliance-report-`+time.Now().UTC().Format("20060102-150405")+`.tar.gz"`)
		w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
		_, _ = w.Write(buf.Bytes())
	}
}
