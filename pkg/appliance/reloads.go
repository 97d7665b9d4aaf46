package appliance

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/status"
	"github.com/prometheus/client_golang/prometheus"
)

// reloadRecord keeps the outcome of the last reload for the status page and exports it as
// Prometheus exports its own (prometheus_config_last_reload_successful and
// prometheus_config_last_reload_success_timestamp_seconds). The lab the appliance started
// with counts as the first successful load.
type reloadRecord struct {
	mu   sync.Mutex
	last status.Reload

	successful  prometheus.Gauge
	successTime prometheus.Gauge
}

func (r *reloadRecord) init(reg prometheus.Registerer, file string, now time.Time) error {
	r.successful = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "cn2_appliance_config_last_reload_successful",
		Help: "Whether the last reload of the lab file was applied (1) or refused (0); 1 at start.",
	})
	r.successTime = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "cn2_appliance_config_last_reload_success_timestamp_seconds",
		Help: "When the lab file was last applied (loaded at start or reloaded), in seconds since the Unix epoch.",
	})
	r.applied(file, now)
	if reg == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{r.successful, r.successTime} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("appliance: reload metrics: %w", err)
		}
	}
	return nil
}

func (r *reloadRecord) applied(file string, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last = status.Reload{File: file, Time: now, Successful: true, LastSuccess: now}
	r.successful.Set(1)
	r.successTime.Set(float64(now.UnixNano()) / 1e9)
}

func (r *reloadRecord) refused(file string, now time.Time, problems []status.ReloadProblem) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last = status.Reload{File: file, Time: now, Successful: false, LastSuccess: r.last.LastSuccess, Problems: problems}
	r.successful.Set(0)
}

// get returns a copy of the last reload's outcome.
func (r *reloadRecord) get() status.Reload {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.last
	out.Problems = slices.Clone(out.Problems)
	return out
}
