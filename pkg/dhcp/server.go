package dhcp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/liveness"
	"github.com/cn2-appliance/cn2-appliance/pkg/ratelog"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
	"github.com/cn2-appliance/cn2-appliance/pkg/timeline"
	"github.com/prometheus/client_golang/prometheus"
)

// Server is the DHCP server of every lab network. Create it with New, start
// it with Run.
type Server struct {
	st   *store.Store
	log  *slog.Logger
	plog *slog.Logger // per-packet warnings, rate-limited: a flood of clients must not flood the journal
	m    *metrics
	q    *queue  // jobs waiting for their lease commit
	out  *outbox // jobs whose replies may leave
	now  func() time.Time

	mu     sync.Mutex // guards cfg and tables
	cfg    *compiled
	tables map[string]*table // by network name

	lmu       sync.RWMutex
	listeners []func(LeaseEvent)

	// Run state, guarded by runMu; socks also by sockMu (the send path
	// reads it without runMu, which Reload holds while stopping readers).
	runMu   sync.Mutex
	running bool
	sockMu  sync.RWMutex
	socks   map[string]*socket // by interface
	readers sync.WaitGroup
	fail    context.CancelCauseFunc

	ready     chan struct{} // closed once Run has bound its sockets
	readyOnce sync.Once

	// sendFn sends a reply; Run sets it to the socket path, tests replace it.
	sendFn func([]*reply) []error

	live *liveness.Registry // nil: the loops beat nowhere
	tl   timeline.Recorder  // nil: no milestones (SetTimeline)
}

// New checks cfg and loads the leases of its networks from st. Metrics are
// registered on reg (nil: none) under the cn2_appliance_dhcp_ prefix.
func New(cfg Config, st *store.Store, reg prometheus.Registerer, log *slog.Logger) (*Server, error) {
	if st == nil {
		return nil, errors.New("dhcp: new: no store")
	}
	c, err := compile(cfg)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{st: st, log: log, plog: ratelog.Logger(log, ratelog.DefaultInterval), q: newQueue(), out: newOutbox(), now: time.Now, cfg: c, tables: map[string]*table{}, ready: make(chan struct{})}
	s.m = newMetrics(s)
	s.sendFn = s.sendOnSockets
	for _, n := range c.networks {
		t, err := s.loadTable(n.Name)
		if err != nil {
			return nil, err
		}
		s.tables[n.Name] = t
	}
	if err := s.m.register(reg); err != nil {
		return nil, err
	}
	return s, nil
}

// loadTable reads network's leases from the store.
func (s *Server) loadTable(network string) (*table, error) {
	ls, err := s.st.Leases(network)
	if err != nil {
		return nil, fmt.Errorf("dhcp: load leases of %s: %w", network, err)
	}
	t := newTable()
	for i := range ls {
		l := ls[i]
		t.set(&l)
	}
	return t, nil
}

// Leases returns the leases of the configured networks as the server holds
// them (acknowledged, or being committed), sorted by network then IP.
func (s *Server) Leases() []store.Lease {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.Lease
	for _, n := range s.cfg.networks {
		for _, l := range s.tables[n.Name].leases {
			out = append(out, *l)
		}
	}
	slices.SortFunc(out, func(a, b store.Lease) int {
		if a.Network != b.Network {
			if a.Network < b.Network {
				return -1
			}
			return 1
		}
		return a.IP.Compare(b.IP)
	})
	return out
}

// Reload replaces the configuration: PrepareReload, then Apply. If it
// returns an error, nothing changed.
func (s *Server) Reload(cfg Config) error {
	st, err := s.PrepareReload(cfg)
	if err != nil {
		return err
	}
	st.Apply()
	return nil
}

// Staged is a configuration PrepareReload has checked and bound but not put
// in service. Exactly one of Apply and Discard must be called, soon: until
// then Run can neither start nor stop.
type Staged struct {
	s      *Server
	c      *compiled
	tables map[string]*table
	opened map[string]*socket // new sockets, not read yet
	reopen bool               // the port changed: every socket is replaced
	done   bool
}

// PrepareReload builds everything a new configuration needs that can fail:
// it checks cfg, loads the leases of new networks from the store and, while
// Run is active, binds the sockets of new interfaces (of every interface if
// the port changed). It changes nothing the server serves; an error says why
// the configuration is refused.
func (s *Server) PrepareReload(cfg Config) (*Staged, error) {
	c, err := compile(cfg)
	if err != nil {
		return nil, err
	}
	s.runMu.Lock()
	st := &Staged{s: s, c: c, tables: map[string]*table{}}
	s.mu.Lock()
	port := s.cfg.cfg.Port
	for _, n := range c.networks {
		if t := s.tables[n.Name]; t != nil {
			st.tables[n.Name] = t
		}
	}
	s.mu.Unlock()
	if s.running {
		have := s.socks
		if c.cfg.Port != port {
			have, st.reopen = nil, true
		}
		if st.opened, err = s.openSockets(c, have); err != nil {
			s.runMu.Unlock()
			return nil, fmt.Errorf("dhcp: reload: %w", err)
		}
	}
	for _, n := range c.networks {
		if st.tables[n.Name] == nil {
			t, err := s.loadTable(n.Name)
			if err != nil {
				closeSockets(st.opened)
				s.runMu.Unlock()
				return nil, fmt.Errorf("dhcp: reload: %w", err)
			}
			st.tables[n.Name] = t
		}
	}
	return st, nil
}

// Apply puts the staged configuration in service: networks, reservations,
// pools, boot settings and leases at once; readers start on the new sockets
// and stop on the sockets of interfaces no longer served. Leases of networks
// that stay are kept. It cannot fail; a second call does nothing.
func (st *Staged) Apply() {
	if st.done {
		return
	}
	st.done = true
	s := st.s
	defer s.runMu.Unlock()
	s.mu.Lock()
	s.cfg, s.tables = st.c, st.tables
	s.mu.Unlock()
	if s.running {
		var gone []*socket
		s.sockMu.Lock()
		for iface, sk := range s.socks {
			if st.reopen || st.c.byIface[iface] == nil {
				gone = append(gone, sk)
				delete(s.socks, iface)
			}
		}
		for iface, sk := range st.opened {
			s.socks[iface] = sk
		}
		s.sockMu.Unlock()
		for _, sk := range gone {
			sk.stop()
		}
		for _, sk := range st.opened {
			s.startReader(sk)
		}
	}
	s.log.Info("dhcp: configuration reloaded", "networks", len(st.c.networks), "interfaces", len(st.c.interfaces))
}

// Discard drops the staged configuration and closes the sockets it bound;
// the server goes on as it was. After Apply it does nothing.
func (st *Staged) Discard() {
	if st.done {
		return
	}
	st.done = true
	closeSockets(st.opened)
	st.s.runMu.Unlock()
}

// SetLiveness makes the server's loops (a reader per interface, the lease
// committer, the reply sender, the expiry sweeper) beat in reg while they
// run. Call it before Run.
func (s *Server) SetLiveness(reg *liveness.Registry) { s.live = reg }

// Ready is closed once Run has bound every socket and serves.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Run serves every network until ctx is done, then stops its goroutines,
// answers what is already committed, and returns nil. It returns an error if
// a socket cannot be bound (at start) or fails while serving.
func (s *Server) Run(ctx context.Context) error {
	ctx, fail := context.WithCancelCause(ctx)
	defer fail(nil)
	s.runMu.Lock()
	if s.running {
		s.runMu.Unlock()
		return errors.New("dhcp: run: already running")
	}
	s.mu.Lock()
	c := s.cfg
	s.mu.Unlock()
	socks, err := s.openSockets(c, nil)
	if err != nil {
		s.runMu.Unlock()
		return fmt.Errorf("dhcp: run: %w", err)
	}
	s.running, s.fail = true, fail
	s.sockMu.Lock()
	s.socks = socks
	s.sockMu.Unlock()
	for _, sk := range socks {
		s.startReader(sk)
	}
	interfaces := len(socks) // socks is s.socks: a reload may change it once runMu is released
	s.runMu.Unlock()
	s.readyOnce.Do(func() { close(s.ready) })

	stopCommit, stopAnswers := make(chan struct{}), make(chan struct{})
	var bg, answers sync.WaitGroup
	answers.Go(func() { s.runAnswers(stopAnswers) })
	bg.Go(func() { s.runCommitter(stopCommit) })
	bg.Go(func() { s.runSweeper(ctx) })
	s.log.Info("dhcp: serving", "interfaces", interfaces)

	<-ctx.Done()
	s.runMu.Lock()
	s.running = false
	s.sockMu.RLock()
	for _, sk := range s.socks {
		sk.unblock()
	}
	s.sockMu.RUnlock()
	s.runMu.Unlock()
	s.readers.Wait() // no new jobs after this
	close(stopCommit)
	bg.Wait() // everything committed
	close(stopAnswers)
	answers.Wait() // and answered
	s.sockMu.Lock()
	closeSockets(s.socks)
	s.socks = nil
	s.sockMu.Unlock()
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) && !errors.Is(cause, context.DeadlineExceeded) {
		return cause
	}
	s.log.Info("dhcp: stopped")
	return nil
}

// runSweeper removes expired leases (store included) and stale offers and
// quarantines, at start and then periodically.
func (s *Server) runSweeper(ctx context.Context) {
	s.mu.Lock()
	every := s.cfg.cfg.LeaseTime / 8
	s.mu.Unlock()
	every = min(max(every, time.Second), time.Minute)
	tick := time.NewTicker(every)
	defer tick.Stop()
	beat := s.live.Register("dhcp sweep", 0)
	defer beat.Done()
	wake := time.NewTicker(beat.Every())
	defer wake.Stop()
	s.sweep()
	for {
		beat.Beat()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			s.sweep()
		case <-wake.C:
		}
	}
}

// sweep queues the deletion of every expired lease, reported as expired
// once it is committed.
func (s *Server) sweep() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for name, t := range s.tables {
		for _, l := range t.sweep(now) {
			s.log.Info("dhcp: lease expired", "network", name, "mac", l.MAC, "ip", l.IP.String())
			j := &job{
				ops: []op{{kind: opDelete, lease: *l}}, events: []LeaseEvent{s.event(EventExpired, *l)},
				rollback: func() {}, mac: l.MAC, ip: l.IP.String(),
			}
			if !s.q.push(j) {
				t.set(l) // try again next sweep
			}
		}
	}
}
