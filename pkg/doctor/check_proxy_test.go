package doctor

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/cn2-appliance/cn2-appliance/pkg/config"
)

// In the rehearsal the proxy check asks only a proxy on loopback whether it answers: the
// installer is direct (loopback), the registries are not asked, a proxy elsewhere is not
// contacted.
func TestProxyCheckOnLoopback(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()
	lab := func(proxy string) *config.Lab {
		return &config.Lab{AssistedInstaller: config.AssistedInstaller{URL: "http://127.0.0.1:8090"},
			Proxy: config.Proxy{HTTPProxy: proxy, HTTPSProxy: proxy}}
	}
	for _, c := range []struct {
		proxy, want string
		status      Status
	}{
		{"http://" + ln.Addr().String(), "answers", StatusOK},
		{"http://" + closedAddr, "does not answer", StatusError},
		{"http://192.0.2.1:3128", "contacts no proxy off loopback", StatusSkipped},
	} {
		rs := checkProxy(context.Background(), &Env{Lab: lab(c.proxy), Loopback: true})
		found := false
		for _, r := range rs {
			if strings.Contains(r.Message, c.want) && r.Status == c.status {
				found = true
			}
			if r.Status == StatusError && c.status != StatusError {
				t.Errorf("%s: %+v", c.proxy, r)
			}
		}
		if !found {
			t.Errorf("%s: no %s result saying %q in %+v", c.proxy, c.status, c.want, rs)
		}
	}
	if rs := checkProxy(context.Background(), &Env{Lab: lab("")}); len(rs) != 1 || rs[0].Status != StatusOK {
		t.Errorf("no proxy: %+v, want one ok result", rs)
	}
}
