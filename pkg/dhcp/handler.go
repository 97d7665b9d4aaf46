package dhcp

import (
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/store"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

// reply is a message ready to leave through the socket of iface.
type reply struct {
	msg     *dhcpv4.DHCPv4
	dst     *net.UDPAddr
	iface   string
	network string
}

type opKind int

const (
	opPut    opKind = iota // store.PutLease(lease)
	opDelete               // store.DeleteLease(lease.Network, lease.MAC)
)

type op struct {
	kind  opKind
	lease store.Lease
}

// job is the outcome of one message (or one sweep): store operations to
// commit, then a reply to send and events to report. The reply leaves only
// after every op is committed.
type job struct {
	ops      []op
	reply    *reply
	events   []LeaseEvent
	rollback func() // undo the in-memory change if the commit fails; called with Server.mu held
	err      error  // set by the committer
	mac, ip  string // for logs
}

// dropReason labels a message the server did not answer.
type dropReason string

const (
	dropMalformed    dropReason = "malformed"
	dropNoNetwork    dropReason = "no_network"
	dropUnknown      dropReason = "unknown_client"
	dropOtherServer  dropReason = "other_server"
	dropNoAddress    dropReason = "no_address"
	dropNotForUs     dropReason = "not_applicable"
	dropUnsupported  dropReason = "unsupported_type"
	dropQueueFull    dropReason = "queue_full"
	dropCommitFailed dropReason = "commit_failed"
)

// handle decides the answer to req, received on iface from peer, updates the
// in-memory lease table, and queues the store writes with the reply that
// must wait for them. It returns the job (nil when nothing is to be done)
// and whether it was queued; a job that was not queued has no ops and its
// reply, if any, may be sent at once. It never panics on input.
func (s *Server) handle(iface string, req *dhcpv4.DHCPv4) (j *job, queued bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, mt, why := s.classify(iface, req)
	netName := "none"
	if n != nil {
		netName = n.Name
	}
	s.m.received(netName, mt)
	if why != "" {
		s.m.dropped(netName, why)
		return nil, false
	}
	now := s.now()
	t := s.tables[n.Name]
	mac := req.ClientHWAddr.String()
	switch mt {
	case dhcpv4.MessageTypeDiscover:
		j, why = s.discover(n, t, req, mac, now)
	case dhcpv4.MessageTypeRequest:
		j, why = s.request(n, t, req, mac, now)
	case dhcpv4.MessageTypeDecline:
		j, why = s.decline(n, t, req, mac, now)
	case dhcpv4.MessageTypeRelease:
		j, why = s.release(n, t, req, mac)
	case dhcpv4.MessageTypeInform:
		j, why = s.inform(n, req, mac)
	default:
		why = dropUnsupported
	}
	if why != "" {
		s.m.dropped(n.Name, why)
		s.log.Debug("dhcp: not answered", "network", n.Name, "mac", mac, "type", mt.String(), "reason", string(why))
		return nil, false
	}
	if j == nil {
		return nil, false
	}
	if j.reply != nil {
		j.reply.iface, j.reply.network = iface, n.Name
		j.reply.dst = s.destination(req, j.reply.msg)
	}
	if len(j.ops) == 0 {
		return j, false
	}
	if !s.q.push(j) {
		j.rollback()
		s.m.dropped(n.Name, dropQueueFull)
		s.plog.Warn("dhcp: lease queue full, not answering", "network", n.Name, "mac", mac)
		return nil, false
	}
	return j, true
}

// classify validates req and picks its network: from giaddr for relayed
// messages, else the network of the receiving interface.
func (s *Server) classify(iface string, req *dhcpv4.DHCPv4) (*network, dhcpv4.MessageType, dropReason) {
	if req == nil || req.OpCode != dhcpv4.OpcodeBootRequest || len(req.ClientHWAddr) != 6 {
		return nil, 0, dropMalformed
	}
	mt := req.MessageType()
	if mt == dhcpv4.MessageTypeNone {
		return nil, mt, dropMalformed
	}
	if gi := addrOf(req.GatewayIPAddr); gi.IsValid() {
		for _, n := range s.cfg.networks {
			if n.Subnet.Contains(gi) {
				return n, mt, ""
			}
		}
		return nil, mt, dropNoNetwork
	}
	if n := s.cfg.byIface[iface]; n != nil {
		return n, mt, ""
	}
	return nil, mt, dropNoNetwork
}

// destination applies RFC 2131 section 4.1: to the relay if there is one,
// NAKs broadcast, to ciaddr if the client has an address, else broadcast
// (the server cannot ARP for an address nobody holds yet).
func (s *Server) destination(req, resp *dhcpv4.DHCPv4) *net.UDPAddr {
	port := s.cfg.cfg.Port
	if gi := addrOf(req.GatewayIPAddr); gi.IsValid() {
		if resp.MessageType() == dhcpv4.MessageTypeNak {
			resp.SetBroadcast()
		}
		return &net.UDPAddr{IP: ip4(gi), Port: port}
	}
	if ci := addrOf(req.ClientIPAddr); ci.IsValid() && resp.MessageType() != dhcpv4.MessageTypeNak {
		return &net.UDPAddr{IP: ip4(ci), Port: port + 1}
	}
	return &net.UDPAddr{IP: net.IPv4bcast, Port: port + 1}
}

// known returns the reservation of mac on n.
func known(n *network, mac string) (Reservation, bool) {
	r, ok := n.byMAC[mac]
	return r, ok
}

func (s *Server) discover(n *network, t *table, req *dhcpv4.DHCPv4, mac string, now time.Time) (*job, dropReason) {
	ip, ok := s.choose(n, t, req, mac, now)
	if !ok {
		if _, res := known(n, mac); !res && !n.ServeUnknown {
			return nil, dropUnknown
		}
		s.plog.Warn("dhcp: no address to offer", "network", n.Name, "mac", mac)
		return nil, dropNoAddress
	}
	t.setOffer(mac, ip, now.Add(offerHold))
	resp := newReply(n, req, dhcpv4.MessageTypeOffer)
	s.fillLease(resp, n, req, mac, ip)
	return &job{reply: &reply{msg: resp}, mac: mac, ip: ip.String()}, ""
}

// choose picks the address to offer mac: its reservation; else (unknown
// clients on a network that serves them) its current lease, its outstanding
// offer, the address it asks for, or a free pool address.
func (s *Server) choose(n *network, t *table, req *dhcpv4.DHCPv4, mac string, now time.Time) (netip.Addr, bool) {
	if r, ok := known(n, mac); ok {
		return r.IP, true
	}
	if !n.ServeUnknown || !n.hasPool {
		return netip.Addr{}, false
	}
	var candidates []netip.Addr
	if l := t.leases[mac]; l != nil {
		candidates = append(candidates, l.IP)
	}
	if o, ok := t.offers[mac]; ok {
		candidates = append(candidates, o.ip)
	}
	candidates = append(candidates, addrOf(req.RequestedIPAddress()))
	for _, c := range candidates {
		if ok, ev := t.usable(n, mac, c, now); ok && ev == "" && n.inPool(c) {
			return c, true
		}
	}
	ip, _, ok := t.free(n, mac, now)
	return ip, ok
}

// fillLease completes an OFFER or ACK of ip to mac.
func (s *Server) fillLease(resp *dhcpv4.DHCPv4, n *network, req *dhcpv4.DHCPv4, mac string, ip netip.Addr) {
	resp.YourIPAddr = ip4(ip)
	resp.ServerIPAddr = ip4(n.ServerIP)
	r, res := known(n, mac)
	addConfig(resp, n, r.Hostname)
	addLeaseTimes(resp, s.cfg.cfg.LeaseTime)
	b := selectBoot(n, req, res)
	b.apply(resp)
	if b.kind != bootNone {
		s.m.boot(n.Name, b.kind)
	}
}

func (s *Server) request(n *network, t *table, req *dhcpv4.DHCPv4, mac string, now time.Time) (*job, dropReason) {
	if sid := addrOf(req.ServerIdentifier()); sid.IsValid() && sid != n.ServerIP {
		t.clearOffer(mac) // the client chose another server
		return nil, dropOtherServer
	}
	want := addrOf(req.RequestedIPAddress())
	if !want.IsValid() {
		want = addrOf(req.ClientIPAddr)
	}
	if !want.IsValid() {
		return nil, dropMalformed
	}
	r, res := known(n, mac)
	if !res && !n.ServeUnknown {
		return nil, dropUnknown
	}
	nak := func(msg string) (*job, dropReason) {
		resp := newReply(n, req, dhcpv4.MessageTypeNak)
		resp.UpdateOption(dhcpv4.OptMessage(msg))
		s.plog.Info("dhcp: nak", "network", n.Name, "mac", mac, "ip", want.String(), "reason", msg)
		return &job{reply: &reply{msg: resp}, mac: mac, ip: want.String()}, ""
	}
	var evict string
	switch {
	case !n.Subnet.Contains(want):
		return nak("address not on this network")
	case res && want != r.IP:
		return nak("address reserved elsewhere; this client has " + r.IP.String())
	case res:
		if other, ok := t.byIP[want]; ok && other != mac {
			evict = other // a reservation wins over a pool lease
		}
	case !n.inPool(want):
		return nak("address not in the pool")
	default:
		ok, ev := t.usable(n, mac, want, now)
		if !ok {
			return nak("address not available")
		}
		evict = ev
	}

	hostname := r.Hostname
	if hostname == "" {
		hostname = cleanHostname(req.HostName())
	}
	l := &store.Lease{
		Network: n.Name, MAC: mac, IP: want, Hostname: hostname,
		Start: now, Expiry: now.Add(s.cfg.cfg.LeaseTime), Reserved: res,
	}
	j := &job{mac: mac, ip: want.String()}
	var evicted *store.Lease
	if evict != "" {
		evicted = t.remove(evict)
		if evicted != nil {
			j.ops = append(j.ops, op{kind: opDelete, lease: *evicted})
			j.events = append(j.events, s.event(EventExpired, *evicted))
			s.log.Info("dhcp: address taken back", "network", n.Name, "mac", evict, "ip", want.String(), "for", mac)
		}
	}
	prev := t.set(l)
	kind := EventBound
	if prev != nil && prev.IP == want && !prev.Expired(now) {
		kind = EventRenewed
	}
	j.ops = append(j.ops, op{kind: opPut, lease: *l})
	j.events = append(j.events, s.event(kind, *l))
	j.rollback = func() {
		if t.leases[mac] == l {
			t.remove(mac)
			if prev != nil {
				if _, taken := t.byIP[prev.IP]; !taken {
					t.set(prev)
				}
			}
		}
		if evicted != nil && t.leases[evicted.MAC] == nil {
			if _, taken := t.byIP[evicted.IP]; !taken {
				t.set(evicted)
			}
		}
	}
	resp := newReply(n, req, dhcpv4.MessageTypeAck)
	s.fillLease(resp, n, req, mac, want)
	j.reply = &reply{msg: resp}
	return j, ""
}

func (s *Server) decline(n *network, t *table, req *dhcpv4.DHCPv4, mac string, now time.Time) (*job, dropReason) {
	if sid := addrOf(req.ServerIdentifier()); sid.IsValid() && sid != n.ServerIP {
		return nil, dropOtherServer
	}
	ip := addrOf(req.RequestedIPAddress())
	l := t.leases[mac]
	o, offered := t.offers[mac]
	if !ip.IsValid() || ((l == nil || l.IP != ip) && (!offered || o.ip != ip)) {
		return nil, dropNotForUs // only the holder may decline an address
	}
	t.declined[ip] = now.Add(s.cfg.cfg.DeclineHold)
	t.clearOffer(mac)
	if r, res := known(n, mac); res && r.IP == ip {
		s.plog.Warn("dhcp: reserved address declined: another host is using it", "network", n.Name, "mac", mac, "ip", ip.String())
	} else {
		s.plog.Warn("dhcp: address declined, held back", "network", n.Name, "mac", mac, "ip", ip.String(), "for", s.cfg.cfg.DeclineHold.String())
	}
	if l == nil || l.IP != ip {
		return nil, ""
	}
	t.remove(mac)
	return &job{
		ops: []op{{kind: opDelete, lease: *l}}, events: []LeaseEvent{s.event(EventDeclined, *l)},
		rollback: func() {}, mac: mac, ip: ip.String(),
	}, ""
}

func (s *Server) release(n *network, t *table, req *dhcpv4.DHCPv4, mac string) (*job, dropReason) {
	if sid := addrOf(req.ServerIdentifier()); sid.IsValid() && sid != n.ServerIP {
		return nil, dropOtherServer
	}
	ci := addrOf(req.ClientIPAddr)
	l := t.leases[mac]
	if l == nil || l.IP != ci {
		return nil, dropNotForUs
	}
	t.remove(mac)
	s.log.Info("dhcp: released", "network", n.Name, "mac", mac, "ip", ci.String())
	return &job{
		ops: []op{{kind: opDelete, lease: *l}}, events: []LeaseEvent{s.event(EventReleased, *l)},
		rollback: func() {}, mac: mac, ip: ci.String(),
	}, ""
}

// inform answers a client that has its address already: configuration
// options only, no lease (RFC 2131 section 3.4).
func (s *Server) inform(n *network, req *dhcpv4.DHCPv4, mac string) (*job, dropReason) {
	r, res := known(n, mac)
	if !res && !n.ServeUnknown {
		return nil, dropUnknown
	}
	resp := newReply(n, req, dhcpv4.MessageTypeAck)
	resp.ClientIPAddr = req.ClientIPAddr
	addConfig(resp, n, r.Hostname)
	return &job{reply: &reply{msg: resp}, mac: mac}, ""
}

// msgTypeLabel is the metrics label of a message type.
func msgTypeLabel(mt dhcpv4.MessageType) string {
	switch mt {
	case dhcpv4.MessageTypeDiscover, dhcpv4.MessageTypeOffer, dhcpv4.MessageTypeRequest,
		dhcpv4.MessageTypeDecline, dhcpv4.MessageTypeAck, dhcpv4.MessageTypeNak,
		dhcpv4.MessageTypeRelease, dhcpv4.MessageTypeInform:
		return strings.ToLower(mt.String())
	case dhcpv4.MessageTypeNone:
		return "none"
	}
	return "other"
}
