package bmc

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts BMC operations by driver, operation and result, and times them. One Metrics
// serves every Client of a process.
type Metrics struct {
	ops *prometheus.CounterVec
	dur *prometheus.HistogramVec
}

// Results counted in cn2_appliance_bmc_operations_total.
const (
	ResultOK             = "ok"
	ResultError          = "error"
	ResultNotSupported   = "not_supported"
	ResultOutcomeUnknown = "outcome_unknown" // a power cycle whose reply was lost, state unreadable
)

// NewMetrics creates the BMC metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cn2_appliance_bmc_operations_total",
			Help: "BMC operations by driver, operation and result (ok, error, not_supported, outcome_unknown).",
		}, []string{"driver", "operation", "result"}),
		dur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cn2_appliance_bmc_operation_duration_seconds",
			Help:    "Duration of BMC operations, retries included, by driver and operation.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
		}, []string{"driver", "operation"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.ops, m.dur} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func (m *Metrics) observe(driver, op string, seconds float64, err error) {
	if m == nil {
		return
	}
	res := ResultOK
	switch {
	case errors.Is(err, ErrOutcomeUnknown):
		res = ResultOutcomeUnknown
	case errors.Is(err, ErrNotSupported):
		res = ResultNotSupported
	case err != nil:
		res = ResultError
	}
	m.ops.WithLabelValues(driver, op, res).Inc()
	m.dur.WithLabelValues(driver, op).Observe(seconds)
}
