package dns

import (
	"errors"
	"fmt"
	"sync/atomic"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// knownQtypes are the qtype label values; anything else is "other", which
// keeps the label cardinality bounded whatever clients send.
var knownQtypes = []uint16{
	mdns.TypeA, mdns.TypeAAAA, mdns.TypePTR, mdns.TypeSOA, mdns.TypeNS, mdns.TypeCNAME,
	mdns.TypeTXT, mdns.TypeSRV, mdns.TypeMX, mdns.TypeANY, mdns.TypeHTTPS, mdns.TypeSVCB,
}

const maxRcodeLabel = 23 // BADCOOKIE; larger rcodes are "other"

// metrics are the cn2_appliance_dns_* collectors.
type metrics struct {
	queries          *prometheus.CounterVec
	cacheHits        prometheus.Counter
	cacheMisses      prometheus.Counter
	upstreamDuration *prometheus.HistogramVec
	upstreamErrors   *prometheus.CounterVec
	namesRefused     *prometheus.CounterVec

	// resolved holds queries counters by [qtype index][rcode], filled on
	// first use so the hot path does no label hashing.
	resolved [][maxRcodeLabel + 2]atomic.Pointer[prometheus.Counter]
	qtypeIdx map[uint16]int
}

func newMetrics(reg prometheus.Registerer, dyn *DynamicNames) (*metrics, error) {
	m := &metrics{
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cn2_appliance_dns_queries_total",
			Help: "DNS queries answered, by query type and response code.",
		}, []string{"qtype", "rcode"}),
		cacheHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cn2_appliance_dns_cache_hits_total",
			Help: "Forwarded names answered from the cache.",
		}),
		cacheMisses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cn2_appliance_dns_cache_misses_total",
			Help: "Forwarded names not in the cache (sent upstream).",
		}),
		upstreamDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cn2_appliance_dns_upstream_duration_seconds",
			Help:    "Time of one exchange with an upstream resolver, failed ones included.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"upstream"}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cn2_appliance_dns_upstream_errors_total",
			Help: "Failed exchanges with an upstream resolver (timeouts, network errors, SERVFAIL/REFUSED answers).",
		}, []string{"upstream"}),
		namesRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cn2_appliance_dns_dynamic_names_refused_total",
			Help: "Host names of DHCP clients not served, by reason: invalid (not a host name label), reserved (the lab keeps it), taken (another client's lease holds it).",
		}, []string{"reason"}),
		qtypeIdx: map[uint16]int{},
	}
	for _, r := range refusedReasons {
		m.namesRefused.WithLabelValues(r)
	}
	dyn.refused = func(reason string) { m.namesRefused.WithLabelValues(reason).Inc() }
	for i, t := range knownQtypes {
		m.qtypeIdx[t] = i
	}
	m.resolved = make([][maxRcodeLabel + 2]atomic.Pointer[prometheus.Counter], len(knownQtypes)+1)
	if reg == nil {
		return m, nil
	}
	dynamic := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "cn2_appliance_dns_dynamic_names",
		Help: "Host names currently served from DHCP leases.",
	}, func() float64 { return float64(dyn.Len()) })
	for _, c := range []prometheus.Collector{m.queries, m.cacheHits, m.cacheMisses, m.upstreamDuration, m.upstreamErrors, m.namesRefused, dynamic} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("dns: register metrics: %w (create one Server per registry; use Reload to change it)", err)
			}
			return nil, fmt.Errorf("dns: register metrics: %w", err)
		}
	}
	return m, nil
}

// query counts one answered query.
func (m *metrics) query(qtype uint16, rcode int) {
	qi, ok := m.qtypeIdx[qtype]
	if !ok {
		qi = len(knownQtypes)
	}
	ri := rcode
	if ri < 0 || ri > maxRcodeLabel {
		ri = maxRcodeLabel + 1
	}
	slot := &m.resolved[qi][ri]
	c := slot.Load()
	if c == nil {
		qs, rs := "other", "other"
		if qi < len(knownQtypes) {
			qs = mdns.TypeToString[qtype]
		}
		if s, ok := mdns.RcodeToString[rcode]; ok && ri <= maxRcodeLabel {
			rs = s
		}
		counter := m.queries.WithLabelValues(qs, rs)
		c = &counter
		slot.Store(c)
	}
	(*c).Inc()
}
