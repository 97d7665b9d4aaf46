package dns

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/netnstest"
)

// header is a DNS header: id, flags, then the four section counts.
func header(flags uint16, counts ...uint16) []byte {
	b := binary.BigEndian.AppendUint16(nil, 0xbeef)
	b = binary.BigEndian.AppendUint16(b, flags)
	for i := range 4 {
		c := uint16(0)
		if i < len(counts) {
			c = counts[i]
		}
		b = binary.BigEndian.AppendUint16(b, c)
	}
	return b
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// malformedDNS are queries no resolver should send: truncated, with counts that lie,
// compression loops, over-long labels and names, responses sent to the server, bad EDNS.
func malformedDNS() map[string][]byte {
	api := []byte("\x03api\x09mycluster\x08contrail\x03lan\x00")
	qA := []byte{0, 1, 0, 1}
	long := bytes.Repeat(append([]byte{63}, bytes.Repeat([]byte("a"), 63)...), 5) // 320 bytes
	return map[string][]byte{
		"empty":                 {},
		"one byte":              {0x12},
		"short header":          header(0x0100)[:11],
		"question missing":      header(0x0100, 1),
		"counts lie":            cat(header(0x0100, 65535, 65535, 65535, 65535), api, qA),
		"no qtype":              cat(header(0x0100, 1), api),
		"pointer to itself":     cat(header(0x0100, 1), []byte{0xc0, 12}, qA),
		"pointer loop":          cat(header(0x0100, 1), []byte{0x01, 'a', 0xc0, 12}, qA),
		"pointer past the end":  cat(header(0x0100, 1), []byte{0xc0, 0xff}, qA),
		"label type 0x40":       cat(header(0x0100, 1), []byte{0x41, 'a', 0}, qA),
		"label past the end":    cat(header(0x0100, 1), []byte{20, 'a', 'b'}),
		"name over 255":         cat(header(0x0100, 1), long, []byte{0}, qA),
		"two questions":         cat(header(0x0100, 2), api, qA, api, qA),
		"a response":            cat(header(0x8180, 1, 1), api, qA, []byte{0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4}),
		"opcode update":         cat(header(0x2800, 1), api, qA),
		"opcode 15":             cat(header(0x7900, 1), api, qA),
		"EDNS option overflows": cat(header(0x0100, 1, 0, 0, 1), api, qA, []byte{0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 8, 0, 10, 0, 200, 1, 2, 3, 4}),
		"two OPT records":       cat(header(0x0100, 1, 0, 0, 2), api, qA, []byte{0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0}),
		"EDNS version 255":      cat(header(0x0100, 1, 0, 0, 1), api, qA, []byte{0, 0, 41, 4, 0, 0, 255, 0, 0, 0, 0}),
		"qtype ANY class CHAOS": cat(header(0x0100, 1), api, []byte{0, 255, 0, 3}),
		"all 0xff":              bytes.Repeat([]byte{0xff}, 512),
		"1200 zero bytes":       make([]byte, 1200),
	}
}

// TestMalformedQueriesInNamespace sends every malformed query over UDP and TCP (plus TCP
// streams whose length prefix lies) from the lab namespace to the server running in its own
// namespace; afterwards dig and kdig still get the lab's answers over UDP and TCP.
func TestMalformedQueriesInNamespace(t *testing.T) {
	requireRoot(t)
	requireBinaries(t, "ip", "dig", "kdig")
	top := setupTopology(t)
	inSrv := []string{"ip", "netns", "exec", top.srv}
	startHelperServer(t, inSrv, "172.16.0.1:53,127.0.0.1:53", "127.0.0.1:5399") // no upstream listens
	srv := &net.UDPAddr{IP: net.IPv4(172, 16, 0, 1), Port: 53}
	var answered int
	err := netnstest.InNetns(top.lab, func() error {
		conn, err := net.DialUDP("udp4", nil, srv)
		if err != nil {
			return err
		}
		defer conn.Close()
		buf := make([]byte, 65535)
		for range 3 {
			for _, p := range malformedDNS() {
				if _, err := conn.Write(p); err != nil {
					return err
				}
				// A reply (FORMERR) or none: only counted, so do not wait long for none.
				_ = conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
				if _, err := conn.Read(buf); err == nil {
					answered++
				}
			}
		}
		streams := [][]byte{{0xff, 0xff, 1, 2, 3}, {0, 0}, {0, 5}, {0}}
		for _, p := range malformedDNS() {
			streams = append(streams, cat(binary.BigEndian.AppendUint16(nil, uint16(len(p))), p))
		}
		for _, s := range streams {
			c, err := net.DialTCP("tcp4", nil, &net.TCPAddr{IP: srv.IP, Port: 53})
			if err != nil {
				return err
			}
			_, _ = c.Write(s)
			_ = c.CloseWrite()
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			_, _ = c.Read(buf)
			c.Close()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d of %d malformed UDP queries got a reply", answered, 3*len(malformedDNS()))
	lab := client{wrap: []string{"ip", "netns", "exec", top.lab}, addr: netip.MustParseAddrPort("172.16.0.1:53")}
	for _, tool := range []string{"dig", "kdig"} {
		for _, tcp := range []string{"+notcp", "+tcp"} {
			if rcode, _, out := lab.ask(t, tool, "api.mycluster.contrail.lan", "A", tcp); rcode != "NOERROR" || !strings.Contains(out, "172.16.0.100") {
				t.Errorf("%s %s after the malformed queries: %s\n%s", tool, tcp, rcode, out)
			}
		}
	}
}
