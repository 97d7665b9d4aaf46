package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	mdns "github.com/miekg/dns"
)

// upstreamUDPSize is the EDNS0 buffer size we advertise upstream and to
// clients (the DNS flag day 2020 value: no IP fragmentation).
const upstreamUDPSize = 1232

// errAllUpstreamsFailed is returned when no upstream gave a usable answer.
var errAllUpstreamsFailed = errors.New("all upstreams failed")

// forwarder resolves names outside our zones through the upstreams, in
// order, with a cache in front.
type forwarder struct {
	upstreams []netip.AddrPort
	names     []string // upstreams as strings, for dialing and metric labels
	timeout   time.Duration
	cache     *cache
	metrics   *metrics
	log       *slog.Logger
	udp, tcp  *mdns.Client
}

func newForwarder(upstreams []netip.AddrPort, timeout time.Duration, c *cache, m *metrics, log *slog.Logger) *forwarder {
	f := &forwarder{
		upstreams: upstreams,
		timeout:   timeout,
		cache:     c,
		metrics:   m,
		log:       log,
		udp:       &mdns.Client{Net: "udp", UDPSize: upstreamUDPSize, Timeout: timeout},
		tcp:       &mdns.Client{Net: "tcp", Timeout: timeout},
	}
	for _, u := range upstreams {
		f.names = append(f.names, u.String())
	}
	return f
}

// resolve answers q from the cache or the first upstream that gives a usable
// answer. The returned message is the caller's to modify.
func (f *forwarder) resolve(ctx context.Context, q mdns.Question, do bool) (*mdns.Msg, error) {
	key := cacheKey{name: mdns.CanonicalName(q.Name), qtype: q.Qtype, qclass: q.Qclass, do: do}
	if m, ok := f.cache.get(key); ok {
		f.metrics.cacheHits.Inc()
		return m, nil
	}
	f.metrics.cacheMisses.Inc()

	req := new(mdns.Msg)
	req.SetQuestion(key.name, q.Qtype)
	req.Question[0].Qclass = q.Qclass
	req.SetEdns0(upstreamUDPSize, do)

	var errs []error
	for i, up := range f.names {
		resp, err := f.exchange(ctx, req, up)
		if err == nil && (resp.Rcode == mdns.RcodeServerFailure || resp.Rcode == mdns.RcodeRefused) {
			err = fmt.Errorf("answered %s", mdns.RcodeToString[resp.Rcode])
		}
		if err != nil {
			f.metrics.upstreamErrors.WithLabelValues(up).Inc()
			f.log.Warn("dns: upstream failed", "upstream", up, "name", key.name, "qtype", mdns.TypeToString[q.Qtype], "err", err)
			errs = append(errs, fmt.Errorf("%s: %w", up, err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		if i > 0 {
			f.log.Debug("dns: answered by a fallback upstream", "upstream", up, "name", key.name)
		}
		f.cache.put(key, resp)
		return resp, nil
	}
	return nil, fmt.Errorf("dns: forward %s %s: %w: %w", key.name, mdns.TypeToString[q.Qtype], errAllUpstreamsFailed, errors.Join(errs...))
}

// exchange asks one upstream over UDP, and again over TCP if the UDP answer
// was truncated.
func (f *forwarder) exchange(ctx context.Context, req *mdns.Msg, up string) (*mdns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	start := time.Now()
	defer func() { f.metrics.upstreamDuration.WithLabelValues(up).Observe(time.Since(start).Seconds()) }()

	resp, _, err := f.udp.ExchangeContext(ctx, req, up)
	if err != nil {
		return nil, fmt.Errorf("udp exchange: %w", err)
	}
	if !resp.Truncated {
		return resp, nil
	}
	resp, _, err = f.tcp.ExchangeContext(ctx, req, up)
	if err != nil {
		return nil, fmt.Errorf("tcp retry after truncation: %w", err)
	}
	return resp, nil
}
