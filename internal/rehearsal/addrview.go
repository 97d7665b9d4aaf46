package rehearsal

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/status"
)

// addrView maps the loopback addresses the rehearsal serves on back to the lab file's own, so
// the status page shows the lab as its file declares it, and notes the mapping once.
type addrView struct {
	back map[netip.Prefix]netip.Prefix // loopback network -> the lab's network
	note string
}

// newAddrView pairs the networks of the lab file (orig) with those of its loopback copy.
func newAddrView(orig, moved *config.Lab) *addrView {
	v := &addrView{back: map[netip.Prefix]netip.Prefix{}}
	var parts []string
	for i, n := range orig.Networks {
		if i >= len(moved.Networks) || moved.Networks[i].CIDR == n.CIDR {
			continue
		}
		v.back[moved.Networks[i].CIDR] = n.CIDR
		parts = append(parts, fmt.Sprintf("%s %s as %s", n.Name, n.CIDR, moved.Networks[i].CIDR))
	}
	if len(parts) > 0 {
		v.note = "Rehearsal on loopback: addresses are the lab file's; they are served on loopback (" + strings.Join(parts, ", ") + ")."
	}
	return v
}

// lab is the lab file's address for a (a itself when it is no loopback-moved one).
func (v *addrView) lab(a netip.Addr) netip.Addr {
	for from, to := range v.back {
		if a.Is4() && from.Contains(a) {
			f, t := a.As4(), to.Addr().As4()
			return netip.AddrFrom4([4]byte{t[0], t[1], f[2], f[3]})
		}
	}
	return a
}

var ipv4Word = regexp.MustCompile(`\b127\.\d{1,3}\.\d{1,3}\.\d{1,3}\b`)

// text maps every moved address in s.
func (v *addrView) text(s string) string {
	if !strings.Contains(s, "127.") {
		return s
	}
	return ipv4Word.ReplaceAllStringFunc(s, func(w string) string {
		a, err := netip.ParseAddr(w)
		if err != nil {
			return w
		}
		return v.lab(a).String()
	})
}

// apply rewrites a status snapshot (appliance.Options.SnapshotView).
func (v *addrView) apply(s *status.Snapshot) {
	if len(v.back) == 0 {
		return
	}
	s.Lab.AddressNote = v.note
	s.Lab.APIVIP, s.Lab.IngressVIP = v.text(s.Lab.APIVIP), v.text(s.Lab.IngressVIP)
	for i := range s.Nodes {
		n := &s.Nodes[i]
		for j := range n.NICs {
			n.NICs[j].IP = v.text(n.NICs[j].IP)
		}
		for j := range n.Remedies {
			n.Remedies[j].Reason, n.Remedies[j].Error = v.text(n.Remedies[j].Reason), v.text(n.Remedies[j].Error)
		}
	}
	for i := range s.Events {
		s.Events[i].Message = v.text(s.Events[i].Message)
	}
	for i := range s.Validations {
		s.Validations[i].Message = v.text(s.Validations[i].Message)
	}
	for i := range s.Steps {
		s.Steps[i].LastError = v.text(s.Steps[i].LastError)
	}
	if s.Doctor != nil {
		for i := range s.Doctor.Results {
			r := &s.Doctor.Results[i]
			r.Target, r.Message, r.Fix = v.text(r.Target), v.text(r.Message), v.text(r.Fix)
		}
	}
}
