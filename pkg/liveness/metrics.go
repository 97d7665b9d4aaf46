package liveness

import (
	"github.com/prometheus/client_golang/prometheus"
)

var (
	aliveDesc = prometheus.NewDesc("cn2_appliance_loop_alive",
		"1 while a long-running loop beats in time or waits on purpose, 0 while it is wedged.", []string{"loop"}, nil)
	lastBeatDesc = prometheus.NewDesc("cn2_appliance_loop_last_beat_timestamp_seconds",
		"When a long-running loop last beat, in seconds since the Unix epoch.", []string{"loop"}, nil)
)

// Collector exports the registry's loops at scrape time.
func (r *Registry) Collector() prometheus.Collector { return collector{r} }

type collector struct{ r *Registry }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- aliveDesc
	ch <- lastBeatDesc
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	seen := map[string]bool{} // two loops of one name (one ending, one starting): the first wins
	for _, l := range c.r.Loops() {
		if seen[l.Name] {
			continue
		}
		seen[l.Name] = true
		alive := 0.0
		if l.Alive() {
			alive = 1
		}
		ch <- prometheus.MustNewConstMetric(aliveDesc, prometheus.GaugeValue, alive, l.Name)
		ch <- prometheus.MustNewConstMetric(lastBeatDesc, prometheus.GaugeValue, float64(l.LastBeat.UnixNano())/1e9, l.Name)
	}
}
