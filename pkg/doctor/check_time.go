package doctor

import (
	"context"
	"fmt"
	"time"

	"github.com/beevik/ntp"
	"golang.org/x/sys/unix"
)

// timeCheck: the jump host's clock is synchronised (the kernel's adjtimex state), and every
// NTP server the lab hands the nodes (dhcp.ntpServers) answers with an offset under maxOffset:
// the installer fails hosts whose clock is off or whose NTP source is unreachable. On loopback
// the NTP queries are skipped (the rehearsal hands out no reachable NTP server).
var timeCheck = Check{
	Name:    "time",
	Needs:   "adjtimex (no privilege); UDP 123 to each dhcp.ntpServers entry",
	Timeout: 8 * time.Second,
	Run:     checkTime,
}

// maxOffset is how far an NTP server's clock may be from the jump host's.
const maxOffset = time.Second

func checkTime(ctx context.Context, env *Env) []Result {
	out := []Result{hostClock()}
	servers := env.Lab.DHCP.NTPServers
	switch {
	case env.Loopback:
		return append(out, skipped("dhcp.ntpServers", "loopback rehearsal: no NTP server is handed out"))
	case len(servers) == 0:
		return append(out, warning("dhcp.ntpServers", "list an NTP server the nodes can reach in dhcp.ntpServers (the appliance's own address if it serves NTP)",
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
			}{i, queryNTP(ctx, s.String())}
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

func queryNTP(ctx context.Context, server string) Result {
	target := "NTP " + server
	const fix = "the nodes are handed this server by DHCP (option 42): make it reachable and synchronised, or change dhcp.ntpServers"
	timeout := 3 * time.Second
	if d, ok := ctx.Deadline(); ok && time.Until(d) < timeout {
		timeout = time.Until(d)
	}
	resp, err := ntp.QueryWithOptions(server, ntp.QueryOptions{Timeout: timeout})
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
