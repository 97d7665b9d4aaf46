package labsim

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"time"
)

// NodeFaults are the faults of one node's firmware and BMC. Each happens once.
type NodeFaults struct {
	// FirmwareHang: the node's first start (power-on or cycle) turns it on, but it hangs in
	// firmware and never sends DHCP.
	FirmwareHang bool
	// LostReply: the BMC performs the first power cycle, but its reply is lost: the call fails
	// as an HTTP call whose reply never came does (a read timeout).
	LostReply bool
	// SlowReply: the BMC performs its first power action (on, off or cycle) and answers this
	// much later (real time); a caller whose context ends first gets the context's error.
	SlowReply time.Duration
	// Injected, when set, is told each time one of the faults happens.
	Injected func(f Fault, what string)
}

// fire reports whether fault f of the node happens now: it is configured and has not
// happened yet. Callers hold p.mu.
func (p *Power) fire(f Fault, configured bool) bool {
	if !configured || p.fired[f] {
		return false
	}
	if p.fired == nil {
		p.fired = map[Fault]bool{}
	}
	p.fired[f] = true
	return true
}

func (p *Power) injected(f Fault, what string) {
	if p.Faults.Injected != nil {
		p.Faults.Injected(f, what)
	}
}

// hangs reports whether this start hangs in firmware; a hung node is on.
func (p *Power) hangs() bool {
	p.mu.Lock()
	hang := p.fire(FirmwareHang, p.Faults.FirmwareHang)
	if hang {
		p.on, p.forcedOff = true, false
		p.counts.FirmwareHangs++
	}
	p.mu.Unlock()
	if hang {
		p.injected(FirmwareHang, "powered on, hangs in firmware: no DHCP")
	}
	return hang
}

// act runs one power action of the BMC: perform does it; then the BMC's faults decide how (and
// whether) its reply reaches the caller. A cycle is the only action whose reply can be lost.
func (p *Power) act(ctx context.Context, op string, cycle bool, perform func(context.Context) error) error {
	if err := perform(ctx); err != nil {
		return err
	}
	p.mu.Lock()
	slow := p.fire(BMCSlow, p.Faults.SlowReply > 0)
	p.mu.Unlock()
	if slow {
		p.injected(BMCSlow, fmt.Sprintf("%s performed, the reply comes %s later", op, p.Faults.SlowReply))
		t := time.NewTimer(p.Faults.SlowReply)
		select {
		case <-ctx.Done():
			t.Stop()
			return &url.Error{Op: "Post", URL: p.actionURL(op), Err: ctx.Err()}
		case <-t.C:
		}
	}
	p.mu.Lock()
	lost := cycle && p.fire(BMCLostReply, p.Faults.LostReply)
	p.mu.Unlock()
	if lost {
		p.injected(BMCLostReply, op+" performed, the reply lost")
		return &url.Error{Op: "Post", URL: p.actionURL(op), Err: &net.OpError{Op: "read", Net: "tcp", Err: replyLost{}}}
	}
	return nil
}

func (p *Power) actionURL(op string) string { return "https://labsim-bmc/" + p.Hostname + "/" + op }

// replyLost is what a client sees of a BMC that acted but whose reply never came: its read
// timed out. Like an HTTP client's own timeout it is a net.Error timeout and matches both
// os.ErrDeadlineExceeded and context.DeadlineExceeded, so it is classed as an outcome unknown
// (the request may have been performed), not as a refusal.
type replyLost struct{}

func (replyLost) Error() string   { return "i/o timeout: no reply (the BMC's reply was lost)" }
func (replyLost) Timeout() bool   { return true }
func (replyLost) Temporary() bool { return true }
func (replyLost) Is(target error) bool {
	return target == context.DeadlineExceeded || target == os.ErrDeadlineExceeded
}
