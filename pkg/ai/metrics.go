package ai

import (
	"errors"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts the client's requests. A nil *Metrics records nothing.
type Metrics struct {
	requests *prometheus.CounterVec
}

// NewMetrics registers cn2_appliance_ai_requests_total{op,code} with reg. code is the HTTP
// status, "network" for a transport error or "auth" for a refused offline token.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{requests: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cn2_appliance_ai_requests_total",
		Help: "Assisted Installer API request attempts by operation and outcome.",
	}, []string{"op", "code"})}
	if err := reg.Register(m.requests); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Metrics) observe(op string, status int, err error) {
	if m == nil {
		return
	}
	code := strconv.Itoa(status)
	switch {
	case errors.Is(err, ErrAuth):
		code = "auth"
	case err != nil:
		code = "network"
	}
	m.requests.WithLabelValues(op, code).Inc()
}
