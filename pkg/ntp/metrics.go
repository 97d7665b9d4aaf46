package ntp

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Results of a request (the result label).
const (
	resultAnswered  = "answered"
	resultIgnored   = "ignored"   // NTP, but not a v3/v4 client request (or NTS)
	resultMalformed = "malformed" // not an NTP packet
)

// metrics are the cn2_appliance_ntp_* collectors.
type metrics struct {
	requestsVec *prometheus.CounterVec
	answers     *prometheus.CounterVec
	sendErrors  prometheus.Counter
	stratum     prometheus.GaugeFunc
}

func newMetrics(reg prometheus.Registerer, stratum func() float64) (*metrics, error) {
	m := &metrics{
		requestsVec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cn2_appliance_ntp_requests_total",
			Help: "NTP packets received, by result: answered, ignored (not a v3/v4 client request), malformed.",
		}, []string{"result"}),
		answers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cn2_appliance_ntp_answers_total",
			Help: "NTP requests answered, by how the clock was served: host (synchronised), local (the lab's local stratum), unsynchronised (stratum 16).",
		}, []string{"source"}),
		sendErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cn2_appliance_ntp_send_errors_total",
			Help: "NTP replies that could not be sent.",
		}),
		stratum: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cn2_appliance_ntp_stratum",
			Help: "The stratum the NTP server answers with now (16: unsynchronised, clients ignore it).",
		}, stratum),
	}
	for _, r := range []string{resultAnswered, resultIgnored, resultMalformed} {
		m.requestsVec.WithLabelValues(r)
	}
	for _, src := range []string{SourceHost, SourceLocal, SourceUnsynchronised} {
		m.answers.WithLabelValues(src)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requestsVec, m.answers, m.sendErrors, m.stratum} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("ntp: register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) requests(result string) prometheus.Counter {
	return m.requestsVec.WithLabelValues(result)
}
