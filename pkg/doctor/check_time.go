package doctor

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/beevik/ntp"
	"golang.org/x/sys/unix"
)

// timeCheck: the jump host's clock is synchronised (the kernel's adjtimex state), the lab does
// not serve it at a local stratum, and every NTP server the lab hands the nodes (DHCP option
// 42 on each network: Lab.NTPEndpoints) answers with an offset under maxOffset:
// the installer fails hosts whose clock is off or whose NTP source is unreachable. On loopback
// the NTP queries are skipped (the rehearsal hands out no reachable NTP server).
var timeCheck = Check{
	Name:    "time",
	Needs:   "adjtimex (no privilege); UDP to each NTP server the lab hands out",
	Timeout: 8 * time.Second,
	Run:     checkTime,
}

// maxOffset is how far an NTP server's clock may be from the jump host's.
const maxOffset = time.Second

func checkTime(ctx context.Context, env *Env) []Result {
	out := []Result{hostClock()}
	if s := env.Lab.NTP.LocalStratum; s > 0 && env.Lab.NTP.Serving() {
		out = append(out, warning("ntp.localStratum", "synchronise the jump host to the site's time and remove ntp.localStratum, if the lab can reach any time source",
			"the appliance serves its own clock at stratum %d even while it is unsynchronised: the nodes agree with each other, not with the world", s))
	}
	var servers []netip.AddrPort
	seen := map[netip.AddrPort]bool{}
	for _, n := range env.Lab.Networks {
		for _, ep := range env.Lab.NTPEndpoints(n.Name) {
			if !seen[ep] {
				seen[ep] = true
				servers = append(servers, ep)
			}
		}
	}
	switch {
	case env.Loopback:
		return append(out, skipped("NTP servers", "loopback rehearsal: no NTP server is handed out"))
	case len(servers) == 0:
		return append(out, warning("NTP servers", "let the appliance serve NTP (ntp.serve: true), or list an NTP server the nodes can reach in dhcp.ntpServers",
			"the nodes are handed no NTP server and fall back to RHCOS's public pool, unreachable from most labs"))
	}
	results := make(chan struct {
		i int
		r Result
	}, len(servers))
	for i, s := range servers {
		go func() {
			results <- struct {
				i int
				r Result
			}{i, queryNTP(ctx, s)}
		}()
	}
	rs := make([]Result, len(servers))
	for range servers {
		r := <-results
		rs[r.i] = r.r
	}
	return append(out, rs...)
}

func hostClock() Result {
	const target = "jump host clock"
	const fix = "run an NTP client on the jump host (e.g. apt install chrony; chronyc tracking shows its state)"
	var tx unix.Timex
	state, err := unix.Adjtimex(&tx)
	if err != nil {
		return warning(target, fix, "cannot read the kernel's clock state: %v", err)
	}
	if state == unix.TIME_ERROR || tx.Status&unix.STA_UNSYNC != 0 {
		return warning(target, fix, "the kernel says the clock is not synchronised")
	}
	return ok(target, "synchronised (estimated error %s)", time.Duration(tx.Esterror)*time.Microsecond)
}

func queryNTP(ctx context.Context, server netip.AddrPort) Result {
	target := "NTP " + server.Addr().String()
	if server.Port() != 123 {
		target = "NTP " + server.String()
	}
	const fix = "the nodes are handed this server by DHCP (option 42): make it reachable and synchronised, or change the lab's NTP servers"
	timeout := 3 * time.Second
	if d, ok := ctx.Deadline(); ok && time.Until(d) < timeout {
		timeout = time.Until(d)
	}
	resp, err := ntp.QueryWithOptions(server.Addr().String(), ntp.QueryOptions{Timeout: timeout, Port: int(server.Port())})
	if err != nil {
		return failure(target, fix, "no NTP answer: %v", err)
	}
	if err := resp.Validate(); err != nil {
		return failure(target, fix, "unusable NTP answer (stratum %d): %v", resp.Stratum, err)
	}
	if off := resp.ClockOffset; off >= maxOffset || off <= -maxOffset {
		return failure(target, fix+"; if the jump host's clock is the wrong one, synchronise it first", "its clock is %s off the jump host's (at most %s allowed)", off.Round(time.Millisecond), maxOffset)
	}
	return ok(target, "offset %s, stratum %d", fmt.Sprint(resp.ClockOffset.Round(time.Microsecond)), resp.Stratum)
}
