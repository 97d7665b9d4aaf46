package pxe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pin/tftp/v3"
	"github.com/prometheus/client_golang/prometheus"
)

// Server is the PXE service: TFTP, HTTP boot, profiles and the boot cache.
type Server struct {
	log      *slog.Logger
	m        *metrics
	cfg      atomic.Pointer[compiled]
	profiles *Profiles
	cache    *Cache
	rebind   chan struct{}
	ready    chan struct{}
	readyOne sync.Once

	ipMu     sync.Mutex
	nodeByIP map[string]string
	ipByNode map[string]string
}

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
		log: log, m: m, cache: cache,
		profiles: &Profiles{docs: docs, m: m},
		rebind:   make(chan struct{}, 1),
		ready:    make(chan struct{}),
		nodeByIP: map[string]string{}, ipByNode: map[string]string{},
	}
	s.cfg.Store(c)
	return s, nil
}

// Profiles is the boot profile per MAC, for the install flow.
func (s *Server) Profiles() *Profiles { return s.profiles }

// Cache is the boot artifact cache; Cache().Fill(ctx, source) fills it.
func (s *Server) Cache() *Cache { return s.cache }

// Ready is closed once the first set of listeners is bound.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Reload applies a new configuration. Nodes, actions and folders apply to the next request;
// changed listeners are re-bound. A changed cache folder is refused (it needs a restart).
func (s *Server) Reload(cfg Config) error {
	c, err := compile(cfg)
	if err != nil {
		return fmt.Errorf("pxe: reload: %w", err)
	}
	if cfg.CacheDir != s.cache.Dir() {
		return fmt.Errorf("pxe: reload: the boot cache folder changed from %s to %s; restart to apply", s.cache.Dir(), cfg.CacheDir)
	}
	old := s.cfg.Swap(c)
	if !sameListeners(old, c) {
		select {
		case s.rebind <- struct{}{}:
		default:
		}
	}
	return nil
}

// Run binds the listeners and serves until ctx is done; it re-binds when Reload changes them.
func (s *Server) Run(ctx context.Context) error {
	for {
		lctx, cancel := context.WithCancel(ctx)
		errc := make(chan error, 1)
		go func() { errc <- s.serve(lctx, s.cfg.Load()) }()
		select {
		case err := <-errc:
			cancel()
			if ctx.Err() != nil {
				return nil
			}
			return err
		case <-s.rebind:
			cancel()
			if err := <-errc; err != nil {
				return err
			}
			s.log.Info("pxe: listeners re-bound after a reload")
		}
	}
}

// serve binds every listener of cfg, serves until ctx is done, then stops them all.
func (s *Server) serve(ctx context.Context, cfg *compiled) error {
	var conns []net.PacketConn
	var lns []net.Listener
	closeAll := func() {
		for _, c := range conns {
			c.Close()
		}
		for _, l := range lns {
			l.Close()
		}
	}
	for _, a := range cfg.TFTPListen {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(a))
		if err != nil {
			closeAll()
			return fmt.Errorf("pxe: tftp: listen on %s: %w", a, err)
		}
		conns = append(conns, c)
	}
	for _, a := range cfg.HTTPListen {
		l, err := net.Listen("tcp", a.String())
		if err != nil {
			closeAll()
			return fmt.Errorf("pxe: http: listen on %s: %w", a, err)
		}
		lns = append(lns, l)
	}
	var wg sync.WaitGroup
	errc := make(chan error, len(conns)+len(lns))
	var tftps []*tftp.Server
	for _, c := range conns {
		ts := tftp.NewServer(s.tftpRead, s.tftpWrite)
		ts.SetTimeout(2 * time.Second)
		ts.SetRetries(5)
		tftps = append(tftps, ts)
		wg.Go(func() {
			if err := ts.Serve(c); err != nil {
				errc <- fmt.Errorf("pxe: tftp on %s: %w", c.LocalAddr(), err)
			}
		})
	}
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	for _, l := range lns {
		wg.Go(func() {
			if err := hs.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("pxe: http on %s: %w", l.Addr(), err)
			}
		})
	}
	s.log.Info("pxe: serving", "tftp", fmt.Sprint(cfg.TFTPListen), "tftp_root", cfg.TFTPRoot, "http", fmt.Sprint(cfg.HTTPListen))
	s.readyOne.Do(func() { close(s.ready) })
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx) // stops accepting, lets short requests finish
	_ = hs.Close()        // then cuts long downloads
	for _, ts := range tftps {
		ts.Shutdown()
	}
	closeAll() // a TFTP server whose Serve had not started yet does not close its socket
	wg.Wait()
	return err
}
