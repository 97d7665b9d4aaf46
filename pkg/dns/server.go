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

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// Server is the appliance's DNS server. Create it with New, start it with
// Run, change its zones, forwarders and ACL with Reload.
type Server struct {
	log     *slog.Logger
	metrics *metrics
	names   *DynamicNames
	state   atomic.Pointer[state]
	listen  []netip.AddrPort // fixed at New
	sockets int              // UDP sockets per listen address

	running atomic.Bool
	runCtx  atomic.Pointer[context.Context]
	ready   chan struct{}
	mu      sync.Mutex
	addrs   []netip.AddrPort // bound addresses, set before ready is closed
}

// New validates cfg and builds a server; it binds nothing yet. Metrics are
// registered on reg (nil: not registered); log nil discards logs.
func New(cfg Config, reg prometheus.Registerer, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	names := newDynamicNames()
	m, err := newMetrics(reg, names)
	if err != nil {
		return nil, err
	}
	st, err := compile(cfg, names, m, log)
	if err != nil {
		return nil, err
	}
	s := &Server{
		log:     log,
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
	return s, nil
}

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

// Reload atomically swaps zones, forwarders, ACL and TTLs: queries in flight
// finish with the old ones, later queries see the new ones, none is dropped.
// The forwarding cache starts empty. Listeners stay as New set them; a
// changed Listen is logged and ignored (restart to apply it).
func (s *Server) Reload(cfg Config) error {
	cfg = cfg.withDefaults()
	st, err := compile(cfg, s.names, s.metrics, s.log)
	if err != nil {
		return fmt.Errorf("dns: reload: %w", err)
	}
	if !slices.Equal(cfg.Listen, s.listen) {
		s.log.Warn("dns: listen addresses changed; they apply after a restart", "listen", fmt.Sprint(cfg.Listen))
	}
	s.state.Store(st)
	s.log.Info("dns: reloaded", "zones", len(st.zones), "forwarders", len(cfg.Forwarders))
	return nil
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
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("dns: run: already running")
	}
	s.runCtx.Store(&ctx)
	udps, tcps, addrs, err := s.bindAll()
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.addrs = addrs
	s.mu.Unlock()

	// Every serving goroutine reports on exited when it ends.
	exited := make(chan error, len(udps)+len(tcps))
	for _, u := range udps {
		go func() { exited <- u.serve(ctx) }()
	}
	started := make(chan *mdns.Server, len(tcps))
	for _, srv := range tcps {
		srv.NotifyStartedFunc = func() { started <- srv }
		go func() { exited <- srv.ActivateAndServe() }()
	}
	running := len(udps) + len(tcps)

	// Wait until each TCP server has started or failed, so that every
	// started one can be shut down below.
	live := map[*mdns.Server]bool{}
	var runErr error
	for len(live) < len(tcps) && runErr == nil {
		select {
		case srv := <-started:
			live[srv] = true
		case err := <-exited:
			running--
			runErr = fmt.Errorf("dns: serve: %w", errOrStopped(err))
		}
	}
	if runErr == nil {
		for _, a := range addrs {
			s.log.Info("dns: listening", "addr", a.String(), "udp_sockets", s.sockets)
		}
		close(s.ready)
		select {
		case <-ctx.Done():
		case err := <-exited:
			running--
			runErr = fmt.Errorf("dns: serve: %w", errOrStopped(err))
		}
	}

	for _, u := range udps {
		_ = u.conn.Close() // ends its read loop
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, srv := range tcps {
		select {
		case srv := <-started:
			live[srv] = true
		default:
		}
		if live[srv] {
			if err := srv.ShutdownContext(shutCtx); err != nil {
				runErr = errors.Join(runErr, fmt.Errorf("dns: shut down listener: %w", err))
			}
		} else {
			_ = srv.Listener.Close()
		}
	}
	for ; running > 0; running-- {
		if err := <-exited; err != nil && runErr == nil {
			runErr = fmt.Errorf("dns: serve: %w", err)
		}
	}
	s.log.Info("dns: stopped")
	return runErr
}

// errOrStopped turns a nil exit of a server that should still run into an error.
func errOrStopped(err error) error {
	if err == nil {
		return errors.New("listener stopped unexpectedly")
	}
	return err
}

// bindAll opens every listener; on any error it closes what it opened.
func (s *Server) bindAll() (udps []*udpServer, tcps []*mdns.Server, addrs []netip.AddrPort, err error) {
	var closers []func() error
	defer func() {
		if err != nil {
			for _, c := range closers {
				_ = c()
			}
		}
	}()
	for _, ap := range s.listen {
		pcs, l, bound, err := bind(ap, s.sockets)
		if err != nil {
			return nil, nil, nil, err
		}
		closers = append(closers, l.Close)
		for _, pc := range pcs {
			closers = append(closers, pc.Close)
			udps = append(udps, newUDPServer(s, pc.(*net.UDPConn)))
		}
		tcps = append(tcps, &mdns.Server{
			Listener:      l,
			Handler:       handler{s},
			ReadTimeout:   5 * time.Second,
			WriteTimeout:  5 * time.Second,
			MaxTCPQueries: 256,
		})
		addrs = append(addrs, bound)
	}
	return udps, tcps, addrs, nil
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
