package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/liveness"
	"github.com/cn2-appliance/cn2-appliance/pkg/ratelog"
	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// Server is the appliance's DNS server. Create it with New, start it with
// Run, change its zones, forwarders, ACL and listen addresses with Reload.
type Server struct {
	log     *slog.Logger
	plog    *slog.Logger // per-query warnings, rate-limited: a flood of queries must not flood the journal
	metrics *metrics
	names   *DynamicNames
	state   atomic.Pointer[state]
	sockets int                // UDP sockets per listen address
	live    *liveness.Registry // nil: the loops beat nowhere

	started atomic.Bool // Run was called; it runs once
	runCtx  atomic.Pointer[context.Context]
	ready   chan struct{}

	// runMu guards listen and run; PrepareReload holds it until Apply or
	// Discard.
	runMu  sync.Mutex
	listen []netip.AddrPort
	run    *serving // nil unless Run serves

	mu    sync.Mutex
	addrs []netip.AddrPort // bound addresses, in listen order
}

// serving is what Run has running.
type serving struct {
	ctx       context.Context
	fail      func(error) // ends Run with this error (the first one counts)
	endpoints map[netip.AddrPort]*endpoint
}

// endpoint is the UDP sockets and the TCP listener of one listen address.
type endpoint struct {
	listen   netip.AddrPort // as configured (its port may be 0)
	bound    netip.AddrPort
	udps     []*udpServer
	tcp      *mdns.Server
	started  chan struct{} // closed once the TCP server accepts
	tcpDone  chan struct{} // closed when the TCP server returned
	stopping atomic.Bool
	wg       sync.WaitGroup
}

// New validates cfg and builds a server; it binds nothing yet. Metrics are
// registered on reg (nil: not registered); log nil discards logs.
func New(cfg Config, reg prometheus.Registerer, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	names := newDynamicNames(log)
	m, err := newMetrics(reg, names)
	if err != nil {
		return nil, err
	}
	plog := ratelog.Logger(log, ratelog.DefaultInterval)
	st, err := compile(cfg, names, m, plog)
	if err != nil {
		return nil, err
	}
	s := &Server{
		log:     log,
		plog:    plog,
		metrics: m,
		names:   names,
		listen:  slices.Clone(cfg.Listen),
		sockets: cfg.UDPSockets,
		ready:   make(chan struct{}),
	}
	if s.sockets <= 0 {
		s.sockets = runtime.GOMAXPROCS(0)
	}
	s.state.Store(st)
	names.reserve(st.reserved)
	return s, nil
}

// SetLiveness makes the server's loops (every UDP socket's reader, every
// TCP listener with the queries of its connections) beat in reg while they
// run. Call it before Run.
func (s *Server) SetLiveness(reg *liveness.Registry) { s.live = reg }

// Names is the dynamic record source (fed from DHCP leases).
func (s *Server) Names() *DynamicNames { return s.names }

// Ready is closed once Run has bound every listener and serves.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addrs returns the bound listen addresses (UDP and TCP share each one);
// they differ from Config.Listen only where that asked for port 0. Valid
// once Ready is closed.
func (s *Server) Addrs() []netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.addrs)
}

// Reload swaps the configuration: PrepareReload, then Apply. If it returns
// an error, nothing changed.
func (s *Server) Reload(cfg Config) error {
	st, err := s.PrepareReload(cfg)
	if err != nil {
		return err
	}
	st.Apply()
	return nil
}

// Staged is a configuration PrepareReload has compiled and bound but not put
// in service. Exactly one of Apply and Discard must be called, soon: until
// then Run can neither start nor stop.
type Staged struct {
	s      *Server
	st     *state
	listen []netip.AddrPort
	added  []*endpoint // bound, not serving yet
	done   bool
}

// PrepareReload builds everything a new configuration needs that can fail:
// it compiles zones, forwarders and ACL and, while Run serves, binds the
// listen addresses that are new. It changes nothing the server serves; an
// error says why the configuration is refused.
func (s *Server) PrepareReload(cfg Config) (*Staged, error) {
	cfg = cfg.withDefaults()
	st, err := compile(cfg, s.names, s.metrics, s.plog)
	if err != nil {
		return nil, fmt.Errorf("dns: reload: %w", err)
	}
	s.runMu.Lock()
	staged := &Staged{s: s, st: st, listen: slices.Clone(cfg.Listen)}
	if s.run != nil {
		for _, ap := range cfg.Listen {
			if s.run.endpoints[ap] != nil {
				continue
			}
			e, err := s.bindEndpoint(ap)
			if err != nil {
				staged.closeAdded()
				s.runMu.Unlock()
				return nil, fmt.Errorf("dns: reload: %w", err)
			}
			staged.added = append(staged.added, e)
		}
	}
	return staged, nil
}

// Apply puts the staged configuration in service: queries in flight finish
// with the old zones, later ones see the new, none is dropped; the
// forwarding cache starts empty. New listen addresses start serving, the
// ones no longer listed stop. It cannot fail; a second call does nothing.
func (staged *Staged) Apply() {
	if staged.done {
		return
	}
	staged.done = true
	s := staged.s
	defer s.runMu.Unlock()
	s.state.Store(staged.st)
	s.names.reserve(staged.st.reserved)
	s.listen = staged.listen
	if run := s.run; run != nil {
		for _, e := range staged.added {
			run.endpoints[e.listen] = e
			s.start(e, run)
		}
		var gone []*endpoint
		for ap, e := range run.endpoints {
			if !slices.Contains(s.listen, ap) {
				gone = append(gone, e)
				delete(run.endpoints, ap)
			}
		}
		if err := stopAll(context.WithoutCancel(run.ctx), gone); err != nil {
			s.log.Warn("dns: stop a listener no longer configured", "err", err)
		}
		s.publishAddrs(run)
	}
	s.log.Info("dns: reloaded", "zones", len(staged.st.zones), "forwarders", len(staged.st.cfg.Forwarders), "listen", fmt.Sprint(s.listen))
}

// Discard drops the staged configuration and closes the listeners it bound;
// the server goes on as it was. After Apply it does nothing.
func (staged *Staged) Discard() {
	if staged.done {
		return
	}
	staged.done = true
	staged.closeAdded()
	staged.s.runMu.Unlock()
}

func (staged *Staged) closeAdded() {
	for _, e := range staged.added {
		e.close()
	}
}

func (s *Server) runContext() context.Context {
	if p := s.runCtx.Load(); p != nil {
		return *p
	}
	return context.Background()
}

// Run binds a UDP and a TCP listener on every listen address, serves until
// ctx is done, then shuts the listeners down and waits for queries in
// flight. It returns bind and serve errors; nil after a clean shutdown.
func (s *Server) Run(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("dns: run: already running")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.runCtx.Store(&ctx)
	var failOnce sync.Once
	var runErr error
	fail := func(err error) {
		failOnce.Do(func() { runErr = err })
		cancel()
	}

	s.runMu.Lock()
	eps, err := s.bindAll(s.listen)
	if err != nil {
		s.runMu.Unlock()
		return err
	}
	run := &serving{ctx: ctx, fail: fail, endpoints: map[netip.AddrPort]*endpoint{}}
	for _, e := range eps {
		run.endpoints[e.listen] = e
		s.start(e, run)
	}
	s.run = run
	s.publishAddrs(run)
	s.runMu.Unlock()

	for _, e := range eps { // ready once every TCP server accepts
		select {
		case <-e.started:
		case <-ctx.Done():
		}
	}
	if ctx.Err() == nil {
		for _, a := range s.Addrs() {
			s.log.Info("dns: listening", "addr", a.String(), "udp_sockets", s.sockets)
		}
		close(s.ready)
		<-ctx.Done()
	}

	s.runMu.Lock()
	s.run = nil
	var all []*endpoint
	for _, e := range run.endpoints {
		all = append(all, e)
	}
	s.runMu.Unlock()
	stopErr := stopAll(context.WithoutCancel(ctx), all)
	s.log.Info("dns: stopped")
	failOnce.Do(func() {}) // runErr is final from here
	return errors.Join(runErr, stopErr)
}

// publishAddrs records the bound addresses of run's endpoints, in listen
// order; called with runMu held.
func (s *Server) publishAddrs(run *serving) {
	var addrs []netip.AddrPort
	for _, ap := range s.listen {
		if e := run.endpoints[ap]; e != nil {
			addrs = append(addrs, e.bound)
		}
	}
	s.mu.Lock()
	s.addrs = addrs
	s.mu.Unlock()
}

// start serves e's sockets until e is stopped; a listener that ends before
// that fails run.
func (s *Server) start(e *endpoint, run *serving) {
	for i, u := range e.udps {
		u.beat = s.live.Register(fmt.Sprintf("dns udp %s #%d", e.bound, i+1), 0)
		e.wg.Go(func() {
			defer u.beat.Done()
			err := u.serve(run.ctx)
			if !e.stopping.Load() {
				run.fail(fmt.Errorf("dns: serve udp %s: %w", e.bound, errOrStopped(err)))
			}
		})
	}
	beat := s.live.Register("dns tcp "+e.bound.String(), 0)
	e.tcp.Listener = liveness.Listener(e.tcp.Listener, beat)
	e.tcp.Handler = handler{s: s, beat: beat}
	e.tcp.NotifyStartedFunc = func() { close(e.started) }
	e.wg.Go(func() {
		defer close(e.tcpDone)
		defer beat.Done()
		err := e.tcp.ActivateAndServe()
		if !e.stopping.Load() {
			run.fail(fmt.Errorf("dns: serve tcp %s: %w", e.bound, errOrStopped(err)))
		}
	})
}

// stop ends e's listeners and waits for its queries in flight (forwarded
// ones are cancelled with Run's context).
func (e *endpoint) stop(ctx context.Context) error {
	e.stopping.Store(true)
	for _, u := range e.udps {
		_ = u.conn.Close() // ends its read loop
	}
	var err error
	select {
	case <-e.started:
		if serr := e.tcp.ShutdownContext(ctx); serr != nil {
			select {
			case <-e.tcpDone: // it had ended already
			default:
				err = fmt.Errorf("dns: shut down listener %s: %w", e.bound, serr)
			}
		}
	case <-e.tcpDone:
	}
	_ = e.tcp.Listener.Close()
	e.wg.Wait()
	return err
}

// close closes the sockets of an endpoint that never served.
func (e *endpoint) close() {
	for _, u := range e.udps {
		_ = u.conn.Close()
	}
	_ = e.tcp.Listener.Close()
}

// stopAll stops every endpoint, at most five seconds waiting for TCP
// connections.
func stopAll(ctx context.Context, eps []*endpoint) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var errs []error
	for _, e := range eps {
		errs = append(errs, e.stop(ctx))
	}
	return errors.Join(errs...)
}

// errOrStopped turns a nil exit of a server that should still run into an error.
func errOrStopped(err error) error {
	if err == nil {
		return errors.New("listener stopped unexpectedly")
	}
	return err
}

// bindAll binds every address of listen; on any error it closes what it
// opened.
func (s *Server) bindAll(listen []netip.AddrPort) ([]*endpoint, error) {
	var eps []*endpoint
	for _, ap := range listen {
		e, err := s.bindEndpoint(ap)
		if err != nil {
			for _, e := range eps {
				e.close()
			}
			return nil, err
		}
		eps = append(eps, e)
	}
	return eps, nil
}

// bindEndpoint opens the UDP sockets and the TCP listener of ap.
func (s *Server) bindEndpoint(ap netip.AddrPort) (*endpoint, error) {
	pcs, l, bound, err := bind(ap, s.sockets)
	if err != nil {
		return nil, err
	}
	e := &endpoint{listen: ap, bound: bound, started: make(chan struct{}), tcpDone: make(chan struct{})}
	for _, pc := range pcs {
		e.udps = append(e.udps, newUDPServer(s, pc.(*net.UDPConn)))
	}
	e.tcp = &mdns.Server{
		Listener:      l,
		ReadTimeout:   5 * time.Second,
		WriteTimeout:  5 * time.Second,
		MaxTCPQueries: 256,
	}
	return e, nil
}

// bind opens n SO_REUSEPORT UDP sockets and one TCP listener on ap. Port 0
// picks a port free for both.
func bind(ap netip.AddrPort, n int) ([]net.PacketConn, net.Listener, netip.AddrPort, error) {
	const attempts = 10
	var lastErr error
	for range attempts {
		pcs, l, bound, err := bindOnce(ap, n)
		if err == nil {
			return pcs, l, bound, nil
		}
		lastErr = err
		if ap.Port() != 0 {
			break
		}
	}
	return nil, nil, netip.AddrPort{}, lastErr
}

func bindOnce(ap netip.AddrPort, n int) (pcs []net.PacketConn, l net.Listener, bound netip.AddrPort, err error) {
	defer func() {
		if err != nil {
			for _, pc := range pcs {
				_ = pc.Close()
			}
		}
	}()
	lc := reusePortConfig()
	first, err := lc.ListenPacket(context.Background(), "udp", ap.String())
	if err != nil {
		return nil, nil, bound, fmt.Errorf("dns: listen udp %s: %w", ap, err)
	}
	pcs = append(pcs, first)
	bound = netip.AddrPortFrom(ap.Addr(), first.LocalAddr().(*net.UDPAddr).AddrPort().Port())
	for len(pcs) < n {
		pc, err := lc.ListenPacket(context.Background(), "udp", bound.String())
		if err != nil {
			return pcs, nil, bound, fmt.Errorf("dns: listen udp %s (socket %d): %w", bound, len(pcs)+1, err)
		}
		pcs = append(pcs, pc)
	}
	for _, pc := range pcs {
		_ = pc.(*net.UDPConn).SetReadBuffer(4 << 20) // best effort: absorb bursts
	}
	var tcp net.ListenConfig
	l, err = tcp.Listen(context.Background(), "tcp", bound.String())
	if err != nil {
		return pcs, nil, bound, fmt.Errorf("dns: listen tcp %s: %w", bound, err)
	}
	return pcs, l, bound, nil
}
