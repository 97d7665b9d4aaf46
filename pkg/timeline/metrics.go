package timeline

import "github.com/prometheus/client_golang/prometheus"

var (
	droppedDesc = prometheus.NewDesc("cn2_appliance_timeline_unwritten_total",
		"Milestones kept in memory but not written to the store (the write queue was full, or the store refused a batch).", nil, nil)
	ignoredDesc = prometheus.NewDesc("cn2_appliance_timeline_ignored_total",
		"Milestones not kept because they named no node of the lab (a MAC or address outside it).", nil, nil)
)

// Collector exports Dropped and Ignored.
func (l *Log) Collector() prometheus.Collector { return collector{l} }

type collector struct{ l *Log }

func (c collector) Describe(ch chan<- *prometheus.Desc) { ch <- droppedDesc; ch <- ignoredDesc }

func (c collector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(c.l.Dropped()))
	ch <- prometheus.MustNewConstMetric(ignoredDesc, prometheus.CounterValue, float64(c.l.Ignored()))
}
