package dns

import (
	"context"
	"net"
	"net/netip"

	"github.com/cn2-appliance/cn2-appliance/pkg/liveness"
	mdns "github.com/miekg/dns"
)

// handler adapts the Server to mdns.Handler for one TCP listener; a query
// that never ends wedges the listener's beat.
type handler struct {
	s    *Server
	beat *liveness.Beat
}

// ServeDNS answers one query and counts it.
func (h handler) ServeDNS(w mdns.ResponseWriter, r *mdns.Msg) {
	defer h.beat.Begin()()
	client, udp := peer(w.RemoteAddr())
	resp := h.s.respond(h.s.runContext(), r, client, udp)
	if resp == nil {
		return
	}
	if err := w.WriteMsg(resp); err != nil {
		h.s.log.Debug("dns: write reply", "client", client.String(), "err", err)
	}
	if len(r.Question) == 1 {
		h.s.metrics.query(r.Question[0].Qtype, resp.Rcode)
	}
}

// peer returns the client's address (IPv4-mapped addresses unmapped) and
// whether the query came over UDP.
func peer(a net.Addr) (netip.Addr, bool) {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.AddrPort().Addr().Unmap(), true
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap(), false
	}
	return netip.Addr{}, false
}

// respond builds the reply to r from client with the current state; nil
// means send nothing.
func (s *Server) respond(ctx context.Context, r *mdns.Msg, client netip.Addr, udp bool) *mdns.Msg {
	return s.respondWith(ctx, s.state.Load(), r, client, udp)
}

// respondWith builds the reply to r from client with state st.
func (s *Server) respondWith(ctx context.Context, st *state, r *mdns.Msg, client netip.Addr, udp bool) *mdns.Msg {
	if r.Response {
		return nil // never answer answers: reflection loops
	}
	resp := new(mdns.Msg)
	resp.SetReply(r)
	resp.Compress = true
	resp.RecursionAvailable = st.fwd != nil && st.recursionAllowed(client)

	opt := r.IsEdns0()
	size := mdns.MinMsgSize
	if opt != nil {
		size = max(int(opt.UDPSize()), mdns.MinMsgSize)
	}
	switch {
	case r.Opcode != mdns.OpcodeQuery:
		resp.Rcode = mdns.RcodeNotImplemented
	case len(r.Question) != 1:
		resp.Rcode = mdns.RcodeFormatError
	case opt != nil && opt.Version() != 0:
		resp.Rcode = mdns.RcodeBadVers // RFC 6891 6.1.3
	default:
		s.answer(ctx, st, r.Question[0], opt != nil && opt.Do(), client, resp)
	}
	if opt != nil {
		resp.SetEdns0(upstreamUDPSize, opt.Do())
	}
	if udp {
		resp.Truncate(size)
	}
	return resp
}

// answer fills resp for the question q.
func (s *Server) answer(ctx context.Context, st *state, q mdns.Question, do bool, client netip.Addr, resp *mdns.Msg) {
	if !supported(q) {
		resp.Rcode = mdns.RcodeRefused
		return
	}
	qname := mdns.CanonicalName(q.Name)
	if z := st.zoneFor(qname); z != nil {
		res := z.lookup(qname, q.Name, q.Qtype, st.dyn)
		resp.Authoritative = true
		resp.Rcode, resp.Answer, resp.Ns, resp.Extra = res.rcode, res.answer, res.ns, res.extra
		return
	}
	if st.fwd == nil || !st.recursionAllowed(client) {
		resp.Rcode = mdns.RcodeRefused
		return
	}
	up, err := st.fwd.resolve(ctx, q, do)
	if err != nil {
		s.log.Debug("dns: forward failed", "name", qname, "client", client.String(), "err", err)
		resp.Rcode = mdns.RcodeServerFailure
		return
	}
	resp.Rcode = up.Rcode
	resp.AuthenticatedData = do && up.AuthenticatedData
	resp.Answer, resp.Ns, resp.Extra = up.Answer, up.Ns, withoutOPT(up.Extra)
}

// supported says whether we answer q at all (class IN, no zone transfers).
func supported(q mdns.Question) bool {
	return q.Qclass == mdns.ClassINET && q.Qtype != mdns.TypeAXFR && q.Qtype != mdns.TypeIXFR && q.Qtype != mdns.TypeOPT
}

// forwards says whether respond would ask an upstream for r: a valid query
// for a name outside our zones from a client allowed to recurse.
func (st *state) forwards(r *mdns.Msg, client netip.Addr) bool {
	if st.fwd == nil || r.Response || r.Opcode != mdns.OpcodeQuery || len(r.Question) != 1 || !supported(r.Question[0]) {
		return false
	}
	if opt := r.IsEdns0(); opt != nil && opt.Version() != 0 {
		return false
	}
	return st.zoneFor(mdns.CanonicalName(r.Question[0].Name)) == nil && st.recursionAllowed(client)
}
