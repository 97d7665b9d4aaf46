package dhcp

import (
	"fmt"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/prometheus/client_golang/prometheus"
)

const metricPrefix = "cn2_appliance_dhcp_"

// metrics are the server's Prometheus metrics. Labels are low-cardinality:
// network names, message types, reasons, boot kinds — never MACs.
type metrics struct {
	messages  *prometheus.CounterVec // network, direction (in|out), type
	drops     *prometheus.CounterVec // network, reason
	boots     *prometheus.CounterVec // network, kind
	commitDur prometheus.Histogram
	batch     prometheus.Histogram
	held      prometheus.Counter

	leases   *prometheus.Desc // network
	poolSize *prometheus.Desc // network
	poolUsed *prometheus.Desc // network
	poolUtil *prometheus.Desc // network
	s        *Server
}

func newMetrics(s *Server) *metrics {
	return &metrics{
		s: s,
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricPrefix + "messages_total", Help: "DHCP messages received (direction=in) and sent (direction=out), by network and type.",
		}, []string{"network", "direction", "type"}),
		drops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricPrefix + "dropped_total", Help: "Received DHCP messages not answered, by reason.",
		}, []string{"network", "reason"}),
		boots: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricPrefix + "boot_answers_total", Help: "OFFERs and ACKs carrying a boot file, by kind (bios, uefi, arm64, http, ipxe).",
		}, []string{"network", "kind"}),
		commitDur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: metricPrefix + "lease_commit_duration_seconds", Help: "Time to write one group of lease changes to the store (fsync included).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 12),
		}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: metricPrefix + "lease_commit_group_size", Help: "Lease changes written per store transaction group.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		}),
		held: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metricPrefix + "replies_paced_total", Help: "Replies held for a later interval because their destination had had its burst.",
		}),
		leases:   prometheus.NewDesc(metricPrefix+"leases_active", "Unexpired leases, by network.", []string{"network"}, nil),
		poolSize: prometheus.NewDesc(metricPrefix+"pool_addresses", "Addresses in the network's pool.", []string{"network"}, nil),
		poolUsed: prometheus.NewDesc(metricPrefix+"pool_addresses_leased", "Pool addresses with an unexpired lease.", []string{"network"}, nil),
		poolUtil: prometheus.NewDesc(metricPrefix+"pool_utilization_ratio", "Leased pool addresses / pool addresses.", []string{"network"}, nil),
	}
}

func (m *metrics) register(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{m.messages, m.drops, m.boots, m.commitDur, m.batch, m.held, (*gauges)(m)} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("dhcp: register metrics: %w", err)
		}
	}
	return nil
}

func (m *metrics) received(network string, mt dhcpv4.MessageType) {
	m.messages.WithLabelValues(network, "in", msgTypeLabel(mt)).Inc()
}

func (m *metrics) sent(network string, mt dhcpv4.MessageType) {
	m.messages.WithLabelValues(network, "out", msgTypeLabel(mt)).Inc()
}

func (m *metrics) dropped(network string, why dropReason) {
	if network == "" {
		network = "none"
	}
	m.drops.WithLabelValues(network, string(why)).Inc()
}

func (m *metrics) boot(network string, kind bootKind) {
	m.boots.WithLabelValues(network, string(kind)).Inc()
}

func (m *metrics) deferred(n int) {
	if n > 0 {
		m.held.Add(float64(n))
	}
}

func (m *metrics) commit(d time.Duration, jobs int) {
	m.commitDur.Observe(d.Seconds())
	m.batch.Observe(float64(jobs))
}

// gauges computes the lease and pool gauges from the lease table at scrape
// time.
type gauges metrics

func (g *gauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- g.leases
	ch <- g.poolSize
	ch <- g.poolUsed
	ch <- g.poolUtil
}

func (g *gauges) Collect(ch chan<- prometheus.Metric) {
	s := g.s
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for _, n := range s.cfg.networks {
		t := s.tables[n.Name]
		if t == nil {
			continue
		}
		active, used := t.active(n, now)
		ch <- prometheus.MustNewConstMetric(g.leases, prometheus.GaugeValue, float64(active), n.Name)
		if !n.hasPool {
			continue
		}
		ch <- prometheus.MustNewConstMetric(g.poolSize, prometheus.GaugeValue, float64(n.poolSize), n.Name)
		ch <- prometheus.MustNewConstMetric(g.poolUsed, prometheus.GaugeValue, float64(used), n.Name)
		ch <- prometheus.MustNewConstMetric(g.poolUtil, prometheus.GaugeValue, float64(used)/float64(n.poolSize), n.Name)
	}
}
