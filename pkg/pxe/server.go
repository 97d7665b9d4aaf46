package pxe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/liveness"
	"github.com/cn2-appliance/cn2-appliance/pkg/ratelog"
	"github.com/cn2-appliance/cn2-appliance/pkg/timeline"
	"github.com/pin/tftp/v3"
	"github.com/prometheus/client_golang/prometheus"
)

// Server is the PXE service: TFTP, HTTP boot, profiles and the boot cache.
type Server struct {
	log      *slog.Logger
	plog     *slog.Logger // per-request warnings, rate-limited: a flood of requests must not flood the journal
	m        *metrics
	cfg      atomic.Pointer[compiled]
	profiles *Profiles
	cache    *Cache
	ready    chan struct{}
	readyOne sync.Once
	live     *liveness.Registry // nil: the listeners beat nowhere
	conns    *ConnLimiter       // HTTP connections across every listener
	tl       timeline.Recorder  // nil: no milestones (SetTimeline)

	// runMu guards run; PrepareReload holds it until Apply or Discard.
	runMu sync.Mutex
	run   *serving // nil unless Run serves

	ipMu     sync.Mutex
	nodeByIP map[string]string
	ipByNode map[string]string
}

// serving is what Run has running.
type serving struct {
	ctx       context.Context
	fail      func(error) // ends Run with this error (the first one counts)
	http      *http.Server
	listeners map[string]*listener // by listenKey
}

// listener is one bound TFTP socket or HTTP listener.
type listener struct {
	key      string
	addr     netip.AddrPort
	conn     *net.UDPConn // TFTP
	ln       net.Listener // HTTP
	tftp     *tftp.Server
	beat     *liveness.Beat
	stopping atomic.Bool
	stop     chan struct{} // closed to end the TFTP prober
	wg       sync.WaitGroup
}

func listenKey(kind string, a netip.AddrPort) string { return kind + " " + a.String() }

// New checks cfg and opens the boot cache; nothing is bound until Run. Profiles are kept in
// docs (a *store.Store).
func New(cfg Config, docs DocStore, reg prometheus.Registerer, log *slog.Logger) (*Server, error) {
	c, err := compile(cfg)
	if err != nil {
		return nil, fmt.Errorf("pxe: %w", err)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("pxe: register metrics: %w", err)
	}
	cache, err := OpenCache(cfg.CacheDir)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		log: log, plog: ratelog.Logger(log, ratelog.DefaultInterval), m: m, cache: cache,
		profiles: &Profiles{docs: docs, m: m},
		ready:    make(chan struct{}),
		nodeByIP: map[string]string{}, ipByNode: map[string]string{},
	}
	s.conns = NewConnLimiter(s.connLimits,
		func(reason string) { m.httpRefused.WithLabelValues(reason).Inc() },
		func(delta int) { m.httpConns.Add(float64(delta)) })
	s.cfg.Store(c)
	return s, nil
}

// connLimits are the HTTP connection caps and ACL of the configuration in service.
func (s *Server) connLimits() ConnLimits {
	c := s.cfg.Load()
	return ConnLimits{Max: c.HTTPMaxConns, MaxPerClient: c.HTTPMaxConnsPerClient, Allowed: c.allowed}
}

// SetLiveness makes every TFTP and HTTP listener beat in reg while it serves. Call it before
// Run.
func (s *Server) SetLiveness(reg *liveness.Registry) { s.live = reg }

// Profiles is the boot profile per MAC, for the install flow.
func (s *Server) Profiles() *Profiles { return s.profiles }

// Cache is the boot artifact cache; Cache().Fill(ctx, source) fills it.
func (s *Server) Cache() *Cache { return s.cache }

// Ready is closed once the first set of listeners is bound.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Reload applies a new configuration: PrepareReload, then Apply. If it returns an error,
// nothing changed.
func (s *Server) Reload(cfg Config) error {
	st, err := s.PrepareReload(cfg)
	if err != nil {
		return err
	}
	st.Apply()
	return nil
}

// Staged is a configuration PrepareReload has checked and bound but not put in service.
// Exactly one of Apply and Discard must be called, soon: until then Run can neither start nor
// stop.
type Staged struct {
	s     *Server
	c     *compiled
	added []*listener // bound, not serving yet
	done  bool
}

// PrepareReload builds everything a new configuration needs that can fail: it checks cfg and,
// while Run serves, binds the listeners that are new. A changed cache folder is refused (it
// needs a restart). It changes nothing the server serves; an error says why the
// configuration is refused.
func (s *Server) PrepareReload(cfg Config) (*Staged, error) {
	c, err := compile(cfg)
	if err != nil {
		return nil, fmt.Errorf("pxe: reload: %w", err)
	}
	if cfg.CacheDir != s.cache.Dir() {
		return nil, fmt.Errorf("pxe: reload: the boot cache folder changed from %s to %s; restart to apply", s.cache.Dir(), cfg.CacheDir)
	}
	s.runMu.Lock()
	st := &Staged{s: s, c: c}
	if s.run != nil {
		if st.added, err = bindListeners(c, s.run.listeners); err != nil {
			s.runMu.Unlock()
			return nil, fmt.Errorf("pxe: reload: %w", err)
		}
	}
	return st, nil
}

// Apply puts the staged configuration in service: nodes, actions and folders apply to the
// next request, new listeners start serving and the ones no longer configured stop (their
// transfers in progress finish). It cannot fail; a second call does nothing.
func (st *Staged) Apply() {
	if st.done {
		return
	}
	st.done = true
	s := st.s
	defer s.runMu.Unlock()
	old := s.cfg.Swap(st.c)
	run := s.run
	if run == nil {
		return
	}
	for _, l := range st.added {
		run.listeners[l.key] = l
		s.startListener(run, l)
	}
	keep := map[string]bool{}
	for _, l := range listenKeys(st.c) {
		keep[l] = true
	}
	for key, l := range run.listeners {
		if !keep[key] {
			delete(run.listeners, key)
			l.close()
		}
	}
	if old.HTTPIdleTimeout != st.c.HTTPIdleTimeout {
		s.log.Warn("pxe: the HTTP idle timeout changes at the next restart", "now", old.HTTPIdleTimeout.String(), "configured", st.c.HTTPIdleTimeout.String())
	}
	if !sameListeners(old, st.c) {
		s.log.Info("pxe: listeners changed after a reload", "tftp", fmt.Sprint(st.c.TFTPListen), "http", fmt.Sprint(st.c.HTTPListen))
	}
}

// Discard drops the staged configuration and closes the listeners it bound; the server goes
// on as it was. After Apply it does nothing.
func (st *Staged) Discard() {
	if st.done {
		return
	}
	st.done = true
	for _, l := range st.added {
		l.close()
	}
	st.s.runMu.Unlock()
}

// Run binds the listeners and serves until ctx is done; Apply changes the listeners while it
// runs. It returns an error if a listener cannot be bound at start or fails while serving.
func (s *Server) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var failOnce sync.Once
	var runErr error
	fail := func(err error) {
		failOnce.Do(func() { runErr = err })
		cancel()
	}
	s.runMu.Lock()
	if s.run != nil {
		s.runMu.Unlock()
		return errors.New("pxe: run: already running")
	}
	cfg := s.cfg.Load()
	ls, err := bindListeners(cfg, nil)
	if err != nil {
		s.runMu.Unlock()
		return err
	}
	run := &serving{ctx: ctx, fail: fail, listeners: map[string]*listener{}, http: &http.Server{
		Handler:           s,
		ReadHeaderTimeout: httpReadHeaderTimeout,
		ReadTimeout:       httpReadTimeout,
		WriteTimeout:      httpWriteTimeout,
		IdleTimeout:       cfg.HTTPIdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}}
	for _, l := range ls {
		run.listeners[l.key] = l
		s.startListener(run, l)
	}
	s.run = run
	s.runMu.Unlock()
	s.log.Info("pxe: serving", "tftp", fmt.Sprint(cfg.TFTPListen), "tftp_root", cfg.TFTPRoot, "http", fmt.Sprint(cfg.HTTPListen))
	s.readyOne.Do(func() { close(s.ready) })

	<-ctx.Done()
	s.runMu.Lock()
	s.run = nil
	s.runMu.Unlock()
	for _, l := range run.listeners {
		l.stopping.Store(true)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	_ = run.http.Shutdown(sctx) // stops accepting, lets short requests finish
	_ = run.http.Close()        // then cuts long downloads
	for _, l := range run.listeners {
		l.close()
	}
	failOnce.Do(func() {}) // runErr is final from here
	return runErr
}

// listenKeys are the keys of every listener c asks for.
func listenKeys(c *compiled) []string {
	var keys []string
	for _, a := range c.TFTPListen {
		keys = append(keys, listenKey("tftp", a))
	}
	for _, a := range c.HTTPListen {
		keys = append(keys, listenKey("http", a))
	}
	return keys
}

// bindListeners binds every listener of c that have lacks; on error it closes what it bound.
func bindListeners(c *compiled, have map[string]*listener) ([]*listener, error) {
	var out []*listener
	fail := func(err error) ([]*listener, error) {
		for _, l := range out {
			l.close()
		}
		return nil, err
	}
	for _, a := range c.TFTPListen {
		key := listenKey("tftp", a)
		if have[key] != nil {
			continue
		}
		conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(a))
		if err != nil {
			return fail(fmt.Errorf("pxe: tftp: listen on %s: %w", a, err))
		}
		out = append(out, &listener{key: key, addr: a, conn: conn, stop: make(chan struct{})})
	}
	for _, a := range c.HTTPListen {
		key := listenKey("http", a)
		if have[key] != nil {
			continue
		}
		ln, err := net.Listen("tcp", a.String())
		if err != nil {
			return fail(fmt.Errorf("pxe: http: listen on %s: %w", a, err))
		}
		out = append(out, &listener{key: key, addr: a, ln: ln, stop: make(chan struct{})})
	}
	return out, nil
}

// startListener serves l until it is closed; a listener that fails before that fails run.
func (s *Server) startListener(run *serving, l *listener) {
	l.beat = s.live.Register("pxe "+l.key, 0)
	if l.conn != nil {
		l.tftp = tftp.NewServer(s.tftpReadProbed(l), s.tftpWrite)
		l.tftp.SetTimeout(2 * time.Second)
		l.tftp.SetRetries(5)
		l.wg.Go(func() {
			err := l.tftp.Serve(l.conn)
			if !l.stopping.Load() {
				if err == nil {
					err = errors.New("stopped unexpectedly")
				}
				run.fail(fmt.Errorf("pxe: tftp on %s: %w", l.addr, err))
			}
		})
		l.wg.Go(func() { s.probeTFTP(l) })
		return
	}
	ln := s.conns.Listener(liveness.Listener(l.ln, l.beat))
	l.wg.Go(func() {
		if err := run.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !l.stopping.Load() {
			run.fail(fmt.Errorf("pxe: http on %s: %w", l.addr, err))
		}
	})
}

// close stops serving l (TFTP transfers in progress finish first) and closes its socket.
func (l *listener) close() {
	l.stopping.Store(true)
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	if l.tftp != nil {
		l.tftp.Shutdown()
	}
	if l.conn != nil {
		l.conn.Close() // a TFTP server whose Serve had not started yet does not close it
	}
	if l.ln != nil {
		l.ln.Close()
	}
	l.wg.Wait()
	l.beat.Done()
}

// The TFTP library's read loop cannot be woken from outside, so each TFTP listener is probed:
// every beat interval a read request for probeFile is sent to it from this host, and the
// listener beats when its handler receives it. The beat proves the socket's loop takes
// requests and hands them to handlers. The probe gets an error back and leaves no trace in
// logs or metrics.
const probeFile = "cn2-appliance-liveness-probe"

var errProbe = errors.New("liveness probe")

// tftpReadProbed is l's read handler: probes beat, everything else is a read request.
func (s *Server) tftpReadProbed(l *listener) func(string, io.ReaderFrom) error {
	return func(filename string, rf io.ReaderFrom) error {
		if filename == probeFile {
			l.beat.Beat()
			return errProbe
		}
		if t, ok := rf.(tftp.OutgoingTransfer); ok && !s.tftpAllowed(t.RemoteAddr()) {
			return errTFTPRefused
		}
		return s.tftpRead(filename, rf)
	}
}

// probeTFTP sends l a probe every beat interval until l is closed.
func (s *Server) probeTFTP(l *listener) {
	tick := time.NewTicker(l.beat.Every())
	defer tick.Stop()
	to := net.UDPAddrFromAddrPort(l.addr) // 0.0.0.0 reaches this host too
	rrq := append(append(append([]byte{0, 1}, probeFile...), 0), "octet\x00"...)
	for {
		select {
		case <-l.stop:
			return
		case <-tick.C:
		}
		c, err := net.DialUDP("udp", nil, to)
		if err == nil {
			_, err = c.Write(rrq)
			c.Close()
		}
		if err != nil {
			s.log.Debug("pxe: tftp liveness probe not sent", "addr", to.String(), "err", err)
		}
	}
}
