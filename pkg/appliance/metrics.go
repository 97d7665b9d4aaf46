package appliance

import (
	"github.com/cn2-appliance/cn2-appliance/pkg/flow"
	"github.com/prometheus/client_golang/prometheus"
)

// flowCollector exposes the install's state at scrape time, read from the flow: nothing is
// kept twice.
type flowCollector struct {
	a *Appliance
}

var (
	flowStepDesc = prometheus.NewDesc("cn2_appliance_flow_step",
		"Install flow steps: 1 for the state each step is in (pending, running, done, failed).", []string{"step", "state"}, nil)
	flowCurrentDesc = prometheus.NewDesc("cn2_appliance_flow_current_step",
		"1 for the install flow's current step (the first one not done).", []string{"step"}, nil)
	flowAttemptsDesc = prometheus.NewDesc("cn2_appliance_flow_step_attempts",
		"How many times each install flow step has been started.", []string{"step"}, nil)
	clusterProgressDesc = prometheus.NewDesc("cn2_appliance_cluster_progress_ratio",
		"The installer's total install progress of the cluster, 0 to 1.", nil, nil)
	hostsDesc = prometheus.NewDesc("cn2_appliance_installer_hosts",
		"Installer hosts of the lab by status and installation stage.", []string{"status", "stage"}, nil)
	attentionDesc = prometheus.NewDesc("cn2_appliance_node_needs_attention",
		"1 when the install flow gave up remedying the node and left it to the operator.", []string{"node"}, nil)
	remediesDesc = prometheus.NewDesc("cn2_appliance_node_remedies_total",
		"Remedies (power on, boot again, boot from disk) the install flow applied to the node.", []string{"node"}, nil)
	failingDesc = prometheus.NewDesc("cn2_appliance_installer_failing_validations",
		"Installer validations failing, cluster and hosts together.", nil, nil)
)

func (c flowCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{flowStepDesc, flowCurrentDesc, flowAttemptsDesc, clusterProgressDesc, hostsDesc, failingDesc, attentionDesc, remediesDesc} {
		ch <- d
	}
}

func (c flowCollector) Collect(ch chan<- prometheus.Metric) {
	f := c.a.Flow()
	current := f.Current()
	for _, s := range f.Steps() {
		for _, state := range []string{flow.StatePending, flow.StateRunning, flow.StateDone, flow.StateFailed} {
			ch <- prometheus.MustNewConstMetric(flowStepDesc, prometheus.GaugeValue, boolValue(s.State == state), s.Name, state)
		}
		ch <- prometheus.MustNewConstMetric(flowCurrentDesc, prometheus.GaugeValue, boolValue(s.Name == current), s.Name)
		ch <- prometheus.MustNewConstMetric(flowAttemptsDesc, prometheus.GaugeValue, float64(s.Attempts), s.Name)
	}
	obs := f.Observed()
	progress := 0.0
	if obs.Cluster != nil && obs.Cluster.Progress != nil {
		progress = float64(obs.Cluster.Progress.TotalPercentage) / 100
	}
	ch <- prometheus.MustNewConstMetric(clusterProgressDesc, prometheus.GaugeValue, progress)
	type key struct{ status, stage string }
	hosts := map[key]int{}
	for _, h := range obs.Hosts {
		k := key{status: h.Status}
		if h.Progress != nil {
			k.stage = h.Progress.CurrentStage
		}
		hosts[k]++
	}
	for k, n := range hosts {
		ch <- prometheus.MustNewConstMetric(hostsDesc, prometheus.GaugeValue, float64(n), k.status, k.stage)
	}
	ch <- prometheus.MustNewConstMetric(failingDesc, prometheus.GaugeValue, float64(len(obs.Failing)))
	records := f.Nodes()
	for _, n := range f.Lab().Nodes {
		r := records[n.Name]
		ch <- prometheus.MustNewConstMetric(attentionDesc, prometheus.GaugeValue, boolValue(r.Attention != ""), n.Name)
		ch <- prometheus.MustNewConstMetric(remediesDesc, prometheus.CounterValue, float64(r.RemediesApplied), n.Name)
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
