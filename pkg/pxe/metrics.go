package pxe

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	tftpTransfers *prometheus.CounterVec // file, result
	tftpBytes     *prometheus.CounterVec // file
	tftpErrors    *prometheus.CounterVec // reason
	httpRequests  *prometheus.CounterVec // node, kind
	httpBytes     *prometheus.CounterVec // artifact
	profiles      *prometheus.CounterVec // profile (changes)
	httpConns     prometheus.Gauge
	httpRefused   *prometheus.CounterVec // reason
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		tftpTransfers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cn2_appliance_tftp_transfers_total",
			Help: "TFTP read transfers by file (files outside the TFTP folder count as \"other\") and result (ok, error).",
		}, []string{"file", "result"}),
		tftpBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cn2_appliance_tftp_sent_bytes_total",
			Help: "Bytes sent over TFTP by file.",
		}, []string{"file"}),
		tftpErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cn2_appliance_tftp_errors_total",
			Help: "Refused or failed TFTP requests by reason (acl, bad_name, not_found, write_refused, transfer).",
		}, []string{"reason"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cn2_appliance_pxe_requests_total",
			Help: "HTTP boot requests by node (\"unknown\" for MACs outside the lab, \"-\" when no MAC is involved) and kind (chain, script, artifact, iso, ipxe, not_found).",
		}, []string{"node", "kind"}),
		httpBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cn2_appliance_http_sent_bytes_total",
			Help: "Bytes of boot artifacts sent over HTTP by artifact (kernel, initrd, rootfs, extra, iso, ipxe, script).",
		}, []string{"artifact"}),
		profiles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cn2_appliance_pxe_profile_changes_total",
			Help: "Boot profile changes by new profile.",
		}, []string{"profile"}),
		httpConns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cn2_appliance_pxe_http_connections",
			Help: "HTTP boot connections open now.",
		}),
		httpRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cn2_appliance_pxe_http_connections_refused_total",
			Help: "HTTP boot connections reset at once, by reason (acl: the client is outside the lab networks; total_cap, client_cap: over the connection caps).",
		}, []string{"reason"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.tftpTransfers, m.tftpBytes, m.tftpErrors, m.httpRequests, m.httpBytes, m.profiles, m.httpConns, m.httpRefused} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
