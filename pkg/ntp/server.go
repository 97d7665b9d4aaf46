package ntp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/facebook/time/ntp/protocol"
	"github.com/prometheus/client_golang/prometheus"
)

// MaxLocalStratum is the highest local stratum (16 means unsynchronised).
const MaxLocalStratum = 15

// Config is everything the server needs; pkg/appliance derives it from the lab file.
type Config struct {
	// Listen is one UDP socket each: the appliance's address on each lab network. Empty: the
	// server serves nothing.
	Listen []netip.AddrPort
	// LocalStratum, 1 to MaxLocalStratum, serves the host clock at that stratum even while it
	// is unsynchronised (an isolated lab); 0: an unsynchronised host is served at stratum 16.
	LocalStratum int
}

func (c Config) validate() error {
	if c.LocalStratum < 0 || c.LocalStratum > MaxLocalStratum {
		return fmt.Errorf("ntp: config: local stratum %d is out of range 0-%d", c.LocalStratum, MaxLocalStratum)
	}
	for _, ap := range c.Listen {
		if !ap.Addr().IsValid() {
			return fmt.Errorf("ntp: config: listen address %s is not valid", ap)
		}
	}
	return nil
}

// Server is the appliance's NTP server. Create it with New, start it with Run, change its
// local stratum with Reload.
type Server struct {
	log          *slog.Logger
	clock        SyncSource
	metrics      *metrics
	listen       []netip.AddrPort // fixed at New
	localStratum atomic.Int32
	syncFailing  atomic.Bool            // the last sync-state read failed (logged once per failure run)
	lastSource   atomic.Pointer[string] // the source of the last answer, to log its changes

	running atomic.Bool
	ready   chan struct{}
	mu      sync.Mutex
	addrs   []netip.AddrPort // bound addresses, set before ready is closed
}

// New validates cfg and builds a server; it binds nothing yet. clock nil is HostClock.
// Metrics are registered on reg (nil: not registered); log nil discards logs.
func New(cfg Config, clock SyncSource, reg prometheus.Registerer, log *slog.Logger) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if clock == nil {
		clock = HostClock{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{log: log, clock: clock, listen: slices.Clone(cfg.Listen), ready: make(chan struct{})}
	s.localStratum.Store(int32(cfg.LocalStratum))
	m, err := newMetrics(reg, func() float64 { return float64(s.Answering().Stratum) })
	if err != nil {
		return nil, err
	}
	s.metrics = m
	return s, nil
}

// Reload applies a new local stratum at once. Listeners stay as New set them; a changed
// Listen is logged and ignored (restart to apply it).
func (s *Server) Reload(cfg Config) error {
	if err := s.Prepare(cfg); err != nil {
		return err
	}
	s.Apply(cfg)
	return nil
}

// Prepare checks cfg for a reload; Apply then cannot fail.
func (s *Server) Prepare(cfg Config) error {
	if err := cfg.validate(); err != nil {
		return fmt.Errorf("ntp: reload: %w", err)
	}
	return nil
}

// Apply applies a prepared cfg: the local stratum at once; listen addresses after a restart.
func (s *Server) Apply(cfg Config) {
	if !slices.Equal(cfg.Listen, s.listen) {
		s.log.Warn("ntp: listen addresses changed; they apply after a restart", "listen", fmt.Sprint(cfg.Listen))
	}
	s.localStratum.Store(int32(cfg.LocalStratum))
	s.log.Info("ntp: reloaded", "local_stratum", cfg.LocalStratum)
}

// Ready is closed once Run has bound every listener and serves.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addrs returns the bound listen addresses; they differ from Config.Listen only where that
// asked for port 0. Valid once Ready is closed.
func (s *Server) Addrs() []netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.addrs)
}

// Answering is what the server tells clients now: the host's sync state read afresh.
func (s *Server) Answering() Answer {
	st, err := s.clock.SyncState()
	if err != nil {
		if !s.syncFailing.Swap(true) {
			s.log.Warn("ntp: cannot read the host clock's sync state; serving it as unsynchronised", "err", err)
		}
	} else if s.syncFailing.Swap(false) {
		s.log.Info("ntp: host clock's sync state readable again")
	}
	a := answerFor(st, err, int(s.localStratum.Load()))
	if prev := s.lastSource.Swap(&a.Source); prev != nil && *prev != a.Source {
		level := slog.LevelInfo
		if a.Source == SourceUnsynchronised {
			level = slog.LevelWarn
		}
		s.log.Log(context.Background(), level, "ntp: the host clock is now served as "+a.Source, "stratum", a.Stratum, "was", *prev)
	}
	return a
}

// Run binds a UDP socket on every listen address first, on the calling goroutine (so a caller
// that moved its thread into a network namespace gets them there), serves until ctx is done,
// then closes them. It returns bind errors; nil after a clean shutdown.
func (s *Server) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("ntp: run: already running")
	}
	conns, err := s.bindAll()
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serve(c)
		}()
	}
	for _, a := range s.Addrs() {
		s.log.Info("ntp: listening", "addr", a.String())
	}
	if len(conns) > 0 {
		a := s.Answering()
		if a.Source == SourceUnsynchronised {
			s.log.Warn("ntp: the host clock is not synchronised: clients are told to ignore it (stratum 16) until it is, or until the lab sets ntp.localStratum")
		} else {
			s.log.Info("ntp: serving the host clock", "source", a.Source, "stratum", a.Stratum)
		}
	}
	close(s.ready)
	<-ctx.Done()
	for _, c := range conns {
		_ = c.Close() // ends its read loop
	}
	wg.Wait()
	s.log.Info("ntp: stopped")
	return nil
}

// bindAll opens every listener; on any error it closes what it opened.
func (s *Server) bindAll() ([]*net.UDPConn, error) {
	var conns []*net.UDPConn
	var addrs []netip.AddrPort
	for _, ap := range s.listen {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(ap))
		if err != nil {
			for _, c := range conns {
				_ = c.Close()
			}
			return nil, fmt.Errorf("ntp: listen udp %s: %w%s", ap, err, bindHint(err))
		}
		conns = append(conns, c)
		addrs = append(addrs, c.LocalAddr().(*net.UDPAddr).AddrPort())
	}
	s.mu.Lock()
	s.addrs = addrs
	s.mu.Unlock()
	return conns, nil
}

func bindHint(err error) string {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return " (does a time daemon on this host serve NTP? give the lab ntp.serve: false and hand out that one, or stop it serving)"
	case errors.Is(err, syscall.EACCES):
		return " (port 123 needs root or CAP_NET_BIND_SERVICE)"
	}
	return ""
}

// serve answers requests on c until c is closed. Requests are answered in turn: an answer
// is a syscall and a few hundred nanoseconds of work.
func (s *Server) serve(c *net.UDPConn) {
	buf := make([]byte, 1500)
	local := c.LocalAddr().String()
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		rx := time.Now()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Debug("ntp: udp read", "addr", local, "err", err) // e.g. ICMP errors surfacing
			continue
		}
		s.answer(c, buf[:n], from, rx)
	}
}

func (s *Server) answer(c *net.UDPConn, b []byte, from netip.AddrPort, rx time.Time) {
	req, err := ParseRequest(b)
	switch {
	case errors.Is(err, ErrIgnored):
		s.metrics.requests(resultIgnored).Inc()
		s.log.Debug("ntp: request not answered", "client", from.String(), "err", err)
		return
	case err != nil:
		s.metrics.requests(resultMalformed).Inc()
		s.log.Debug("ntp: malformed request", "client", from.String(), "err", err)
		return
	case from.Port() == 0:
		s.metrics.requests(resultIgnored).Inc()
		return
	}
	a := s.Answering()
	p := reply(req, a, rx)
	s.metrics.requests(resultAnswered).Inc()
	s.metrics.answers.WithLabelValues(a.Source).Inc()
	p.TxTimeSec, p.TxTimeFrac = protocol.Time(time.Now())
	out, err := p.Bytes()
	if err == nil {
		_, err = c.WriteToUDPAddrPort(out, from)
	}
	if err != nil {
		s.metrics.sendErrors.Inc()
		s.log.Debug("ntp: send reply", "client", from.String(), "err", err)
	}
}
