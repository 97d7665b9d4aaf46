package appliance

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/testlab"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/status"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
	"github.com/insomniacslk/dhcp/dhcpv4"
	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

func loopbackLab(t *testing.T) *config.Lab { return testlab.Loopback(t) }
func copyLab(l *config.Lab) *config.Lab    { return testlab.Copy(l) }
func freePort(t *testing.T) int            { return testlab.FreePort(t) }

// running is an appliance serving the loopback lab until the test ends.
type running struct {
	*Appliance
	reg *prometheus.Registry
	st  *store.Store
}

func runLoopback(t *testing.T, lab *config.Lab, opts Options) *running {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	opts.Gatherer = reg
	a, err := New(lab, st, reg, slog.New(slog.DiscardHandler), opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		st.Close()
	})
	ready, stop := context.WithTimeout(context.Background(), time.Minute)
	defer stop()
	if err := a.WaitReady(ready); err != nil {
		select {
		case err := <-done:
			t.Fatalf("Run: %v", err)
		default:
			t.Fatalf("not ready: %v", err)
		}
	}
	return &running{Appliance: a, reg: reg, st: st}
}

// gauge is the value of a metric without labels.
func (r *running) gauge(t *testing.T, name string) float64 {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// lookup asks the appliance's DNS server on loopback for name's A record ("" if none).
func lookup(t *testing.T, lab *config.Lab, name string) string {
	t.Helper()
	m := new(mdns.Msg)
	m.SetQuestion(name+"."+lab.Zone()+".", mdns.TypeA)
	c := &mdns.Client{Net: "tcp", Timeout: 10 * time.Second}
	r, _, err := c.Exchange(m, fmt.Sprintf("127.0.0.1:%d", lab.DNS.Port))
	if err != nil {
		t.Fatalf("dns %s: %v", name, err)
	}
	if len(r.Answer) == 0 {
		return ""
	}
	return r.Answer[0].(*mdns.A).A.String()
}

// bootScript fetches the iPXE script the appliance serves mac on the machine network.
func bootScript(t *testing.T, lab *config.Lab, mac string) string {
	t.Helper()
	url := fmt.Sprintf("http://%s/boot/%s.ipxe", netip.AddrPortFrom(lab.Networks[0].Address, uint16(lab.Boot.HTTPPort)), mac)
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// offer sends a relayed DISCOVER for mac on the ctrl network and returns the offered address.
func offer(t *testing.T, lab *config.Lab, mac string) string {
	t.Helper()
	relay := netip.AddrFrom4([4]byte{127, 16, 0, 254})
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			if serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); serr == nil {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, 0xf /* SO_REUSEPORT */, 1)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp4", netip.AddrPortFrom(relay, uint16(lab.DHCP.Port)).String())
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	hw, err := net.ParseMAC(mac)
	if err != nil {
		t.Fatal(err)
	}
	d, err := dhcpv4.NewDiscovery(hw, dhcpv4.WithGatewayIP(relay.AsSlice()))
	if err != nil {
		t.Fatal(err)
	}
	server := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: lab.DHCP.Port}
	buf := make([]byte, 1500)
	for range 10 { // UDP: ask again if the answer got lost
		if _, err := pc.WriteTo(d.ToBytes(), server); err != nil {
			t.Fatal(err)
		}
		_ = pc.SetReadDeadline(time.Now().Add(2 * time.Second))
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				break
			}
			r, err := dhcpv4.FromBytes(buf[:n])
			if err == nil && r.TransactionID == d.TransactionID && r.MessageType() == dhcpv4.MessageTypeOffer {
				return r.YourIPAddr.String()
			}
		}
	}
	t.Fatalf("no OFFER for %s", mac)
	return ""
}

type statusEvent = status.Event

func netip4(s string) netip.Addr { return netip.MustParseAddr(s) }
