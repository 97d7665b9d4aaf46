package doctor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	mdns "github.com/miekg/dns"
)

// dnsCheck asks the appliance's own DNS what the nodes and the installer will ask: api,
// api-int, a random *.apps name, every node's name and every node address's PTR, and
// validateNoWildcardDNS.<cluster>.<domain>, which must be NXDOMAIN (the installer's own
// wildcard check). Env.DNS is the running appliance's server, or one the caller built
// in-process from the lab.
var dnsCheck = Check{
	Name:    "dns",
	Needs:   "the appliance's DNS server (running, or built in-process on loopback)",
	Timeout: 10 * time.Second,
	Run:     checkDNS,
}

// dnsQuestion is one name and what the appliance must answer.
type dnsQuestion struct {
	name   string
	qtype  uint16
	want   string // the A address or PTR target; "" with nxdomain
	nxdom  bool
	reason string
}

func dnsQuestions(lab *config.Lab) []dnsQuestion {
	zone := lab.Zone() + "."
	api := lab.Cluster.APIVIP.String()
	qs := []dnsQuestion{
		{name: "api." + zone, qtype: mdns.TypeA, want: api, reason: "the API VIP"},
		{name: "api-int." + zone, qtype: mdns.TypeA, want: api, reason: "the API VIP (nodes)"},
		{name: randomLabel() + ".apps." + zone, qtype: mdns.TypeA, want: lab.Cluster.IngressVIP.String(), reason: "the ingress VIP (*.apps)"},
		{name: "validateNoWildcardDNS." + zone, qtype: mdns.TypeA, nxdom: true, reason: "the installer fails a cluster whose zone has a catch-all wildcard"},
	}
	mn := lab.MachineNetwork()
	for _, n := range lab.Nodes {
		for _, nic := range n.NICs {
			if mn != nil && nic.Network == mn.Name {
				qs = append(qs, dnsQuestion{name: n.Name + "." + zone, qtype: mdns.TypeA, want: nic.IP.String(), reason: n.Name + "'s machine-network address"})
			}
		}
	}
	ptr := map[string]string{}
	for _, z := range lab.DNSZones() {
		for _, r := range z.Records {
			if r.Type == config.RecordPTR {
				ptr[r.Name] = r.Value
			}
		}
	}
	for _, n := range lab.Nodes {
		for _, nic := range n.NICs {
			rev := config.ReverseName(nic.IP)
			if want, ok := ptr[rev]; ok {
				qs = append(qs, dnsQuestion{name: rev, qtype: mdns.TypePTR, want: want, reason: n.Name + "'s reverse name (the node takes its host name from it)"})
			}
		}
	}
	return qs
}

func randomLabel() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "doctor-" + hex.EncodeToString(b)
}

func checkDNS(ctx context.Context, env *Env) []Result {
	target := "appliance DNS " + env.DNS.String()
	if !env.DNS.IsValid() {
		return []Result{failure(target, "", "no DNS server to ask (internal error: the caller passed none)")}
	}
	var out []Result
	qs := dnsQuestions(env.Lab)
	for _, q := range qs {
		if r := askAppliance(ctx, env.DNS, q); r != nil {
			out = append(out, *r)
		}
	}
	if len(out) == 0 {
		out = append(out, ok(target, "%d names answered as the nodes need (api, api-int, *.apps, nodes, PTRs); validateNoWildcardDNS is NXDOMAIN", len(qs)))
	}
	return out
}

// askAppliance returns a failure when the appliance's answer to q is wrong, else nil.
func askAppliance(ctx context.Context, server netip.AddrPort, q dnsQuestion) *Result {
	m := new(mdns.Msg)
	m.SetQuestion(q.name, q.qtype)
	c := &mdns.Client{Timeout: 2 * time.Second}
	resp, _, err := c.ExchangeContext(ctx, m, server.String())
	target := strings.TrimSuffix(q.name, ".")
	fix := "the appliance's DNS does not serve the lab's zone as the nodes need it: check the lab file and the appliance's log (a failed reload keeps the previous zone)"
	if err != nil {
		r := failure(target, fix, "no answer from the appliance's DNS at %s: %v", server, err)
		return &r
	}
	if q.nxdom {
		if resp.Rcode != mdns.RcodeNameError {
			r := failure(target, "remove the wildcard that catches "+target+": only *.apps may be a wildcard in the cluster zone", "answered %s, want NXDOMAIN: %s", rcodeAndAnswer(resp), q.reason)
			return &r
		}
		return nil
	}
	if resp.Rcode != mdns.RcodeSuccess {
		r := failure(target, fix, "answered %s, want %s (%s)", mdns.RcodeToString[resp.Rcode], q.want, q.reason)
		return &r
	}
	for _, rr := range resp.Answer {
		switch v := rr.(type) {
		case *mdns.A:
			if v.A.String() == q.want {
				return nil
			}
		case *mdns.PTR:
			if v.Ptr == q.want {
				return nil
			}
		}
	}
	r := failure(target, fix, "answered %s, want %s (%s)", rcodeAndAnswer(resp), q.want, q.reason)
	return &r
}

func rcodeAndAnswer(m *mdns.Msg) string {
	var vals []string
	for _, rr := range m.Answer {
		switch v := rr.(type) {
		case *mdns.A:
			vals = append(vals, v.A.String())
		case *mdns.PTR:
			vals = append(vals, v.Ptr)
		default:
			vals = append(vals, mdns.TypeToString[rr.Header().Rrtype])
		}
	}
	if len(vals) == 0 {
		return mdns.RcodeToString[m.Rcode] + " with no answer"
	}
	return fmt.Sprintf("%s %s", mdns.RcodeToString[m.Rcode], strings.Join(vals, ", "))
}
