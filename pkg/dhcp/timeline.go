package dhcp

import (
	"github.com/cn2-appliance/cn2-appliance/pkg/timeline"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

// SetTimeline has every reply sent reported to rec as a milestone of the client's MAC; call it
// before Run. Record does not block, so the send path stays as fast.
func (s *Server) SetTimeline(rec timeline.Recorder) { s.tl = rec }

// answeredBy is the request type a reply answers.
var answeredBy = map[dhcpv4.MessageType]string{
	dhcpv4.MessageTypeOffer: "DISCOVER", dhcpv4.MessageTypeAck: "REQUEST", dhcpv4.MessageTypeNak: "REQUEST",
}

// markSent reports a reply that left: "DISCOVER → OFFER 172.16.0.11 (ctrl)".
func (s *Server) markSent(r *reply) {
	if s.tl == nil {
		return
	}
	mt := r.msg.MessageType()
	req := answeredBy[mt]
	if mt == dhcpv4.MessageTypeAck && r.msg.YourIPAddr.IsUnspecified() {
		req = "INFORM"
	}
	detail := req + " → " + mt.String()
	if ip := r.msg.YourIPAddr; ip != nil && !ip.IsUnspecified() {
		detail += " " + ip.String()
	}
	s.tl.Record(timeline.Milestone{MAC: r.msg.ClientHWAddr.String(), Kind: timeline.KindDHCP, Detail: detail + " (" + r.network + ")"})
}
