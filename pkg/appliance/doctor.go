package appliance

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"

	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/dns"
	"github.com/cn2-appliance/cn2-appliance/pkg/doctor"
	"github.com/prometheus/client_golang/prometheus"
)

// The doctor's last report is kept in the store, so the status page shows it after a restart.
const (
	docKindDoctor = "doctor"
	docDoctorLast = "last"
)

// preflight is the install flow's first step: the doctor against the lab as this appliance
// serves it (its own running DNS, its own sockets not counted as taken), minus the checks
// Options.SkipPreflight names. The report is kept for the status page and metrics; an error
// result stops the flow with the report's reason.
func (a *Appliance) preflight(ctx context.Context) error {
	if !slices.Contains(a.opts.SkipPreflight, "dns") {
		select { // the DNS check asks the running server
		case <-a.dns.Ready():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if !slices.Contains(a.opts.SkipPreflight, "time") {
		select { // the time check asks the running NTP server on the appliance's addresses
		case <-a.ntp.Ready():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	lab := a.Lab()
	env := doctor.Env{
		Lab:        lab,
		DNS:        a.servedDNS(lab),
		HTTPClient: a.opts.AIHTTPClient,
		Loopback:   a.opts.Loopback,
		Log:        a.log.With("service", "doctor"),
	}
	a.hardwareEnv(&env)
	r := doctor.Run(ctx, env, a.opts.SkipPreflight)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	a.recordDoctor(r)
	if err := r.Err(); err != nil {
		return err
	}
	warnings := 0
	for _, res := range r.Results {
		if res.Status == doctor.StatusWarning {
			warnings++
		}
	}
	a.event(slog.LevelInfo, fmt.Sprintf("preflight passed (%d warning(s))", warnings))
	return nil
}

// servedDNS is the address the nodes ask: the appliance's on the machine network, at the port
// the server really bound.
func (a *Appliance) servedDNS(lab *config.Lab) netip.AddrPort {
	want := loopback
	if mn := lab.MachineNetwork(); mn != nil {
		want = mn.Address
	}
	addrs := a.dns.Addrs()
	for _, ap := range addrs {
		if ap.Addr() == want {
			return ap
		}
	}
	if len(addrs) > 0 {
		return addrs[0]
	}
	return netip.AddrPortFrom(want, uint16(lab.DNS.Port))
}

// recordDoctor keeps the report for the status page and metrics.
func (a *Appliance) recordDoctor(r doctor.Report) {
	a.doctorLast.Store(&r)
	if err := a.store.PutDoc(docKindDoctor, docDoctorLast, r); err != nil {
		a.log.Error("appliance: record the doctor's report", "err", err)
	}
	for _, res := range r.Errors() {
		a.event(slog.LevelError, fmt.Sprintf("preflight: %s %s: %s; fix: %s", res.Check, res.Target, res.Message, res.Fix))
	}
}

// loadDoctor reads the last report the store holds (nil if none).
func (a *Appliance) loadDoctor() {
	var r doctor.Report
	if found, err := a.store.GetDoc(docKindDoctor, docDoctorLast, &r); err == nil && found {
		a.doctorLast.Store(&r)
	}
}

// DoctorReport is the last preflight report (nil before the first).
func (a *Appliance) DoctorReport() *doctor.Report { return a.doctorLast.Load() }

// DoctorOptions configure a standalone doctor run.
type DoctorOptions struct {
	HTTPClient *http.Client
	Skip       []string
	Log        *slog.Logger
}

// RunDoctor runs the doctor against lab without a running appliance (the doctor command,
// before serve): the DNS check asks the appliance's DNS server built in-process from the lab
// (DNSConfig, the same zones, names and answers serve would give), listening only on a free
// loopback port, so it needs none of the lab's ports and clashes with nothing.
func RunDoctor(ctx context.Context, lab *config.Lab, o DoctorOptions) (doctor.Report, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	cfg := DNSConfig(lab)
	cfg.Listen = []netip.AddrPort{netip.AddrPortFrom(loopback, 0)}
	cfg.UDPSockets = 1
	srv, err := dns.New(cfg, nil, o.Log.With("service", "dns"))
	if err != nil {
		return doctor.Report{}, fmt.Errorf("doctor: build the lab's DNS server: %w", err)
	}
	dctx, stop := context.WithCancel(ctx)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Run(dctx) }()
	select {
	case <-srv.Ready():
	case err := <-served:
		return doctor.Report{}, fmt.Errorf("doctor: run the lab's DNS server on loopback: %w", err)
	case <-ctx.Done():
		return doctor.Report{}, ctx.Err()
	}
	r := doctor.Run(ctx, doctor.Env{Lab: lab, DNS: srv.Addrs()[0], HTTPClient: o.HTTPClient, Log: o.Log}, o.Skip)
	stop()
	<-served
	return r, nil
}

// doctorCollector exposes the last preflight report at scrape time.
type doctorCollector struct{ a *Appliance }

var (
	doctorCheckOKDesc = prometheus.NewDesc("cn2_appliance_doctor_check_ok",
		"1 if the check found no error at the last preflight (warnings and skips count as ok), else 0.", []string{"check"}, nil)
	doctorLastRunDesc = prometheus.NewDesc("cn2_appliance_doctor_last_run_timestamp_seconds",
		"When the last preflight ran, in seconds since the epoch.", nil, nil)
)

func (c doctorCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- doctorCheckOKDesc
	ch <- doctorLastRunDesc
}

func (c doctorCollector) Collect(ch chan<- prometheus.Metric) {
	r := c.a.DoctorReport()
	if r == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(doctorLastRunDesc, prometheus.GaugeValue, float64(r.Time.UnixNano())/1e9)
	for name, ok := range r.CheckOK() {
		ch <- prometheus.MustNewConstMetric(doctorCheckOKDesc, prometheus.GaugeValue, boolValue(ok), name)
	}
}
