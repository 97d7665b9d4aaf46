package doctor

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
	"github.com/cn2-appliance/cn2-appliance/pkg/bmc"
	"github.com/cn2-appliance/cn2-appliance/pkg/config"
)

// Status is how one finding came out.
type Status string

// Statuses, from good to bad. Only StatusError makes the doctor (and the preflight step) fail.
const (
	StatusOK      Status = "ok"
	StatusSkipped Status = "skipped"
	StatusWarning Status = "warning"
	StatusError   Status = "error"
)

// Result is one finding of one check about one target.
type Result struct {
	Check   string `json:"check"`
	Target  string `json:"target"` // what was looked at: an interface, an address, a forwarder...
	Status  Status `json:"status"`
	Message string `json:"message"`       // what was found
	Fix     string `json:"fix,omitempty"` // what to do about it (warnings and errors)
}

// Check is one preflight check. Run must return when ctx ends (its deadline is Timeout) and
// must not change anything in the lab.
type Check struct {
	Name    string // stable: the metric label, the --skip-preflight value, the README entry
	Needs   string // what the check needs from the jump host, for the README and --help
	Timeout time.Duration
	Run     func(ctx context.Context, env *Env) []Result
}

// Env is what the checks look at.
type Env struct {
	Lab *config.Lab
	// DNS is the appliance's DNS server to ask, as the nodes would: the running appliance's
	// address on the machine network, or a server built in-process from the lab.
	DNS netip.AddrPort
	// HTTPClient sends the installer request (a plain client when nil).
	HTTPClient *http.Client
	// Loopback is the rehearsal: the lab networks live on lo, so there is no fabric to send
	// ARP or DHCP broadcasts on and no interface holds the lab addresses. Checks say how they
	// adjust (see the README).
	Loopback bool
	Log      *slog.Logger
	// NodeHardware reads a node's hardware from its BMC (check_hardware.go); nil: not here.
	NodeHardware func(ctx context.Context, node string) (bmc.Hardware, error)
	// Requirements asks the installer for its minimums by role; nil or failing: its defaults.
	Requirements func(ctx context.Context) (*ai.PreflightRequirements, error)
}

// Report is one run of the doctor.
type Report struct {
	Time     time.Time     `json:"time"`
	Duration time.Duration `json:"durationNanoseconds"`
	Results  []Result      `json:"results"`
}

// Failed reports whether any result is an error.
func (r Report) Failed() bool { return len(r.Errors()) > 0 }

// Errors are the error results, in order.
func (r Report) Errors() []Result {
	var out []Result
	for _, res := range r.Results {
		if res.Status == StatusError {
			out = append(out, res)
		}
	}
	return out
}

// CheckOK says, per check that ran or was skipped, whether it found no error.
func (r Report) CheckOK() map[string]bool {
	ok := map[string]bool{}
	for _, res := range r.Results {
		if _, seen := ok[res.Check]; !seen {
			ok[res.Check] = true
		}
		if res.Status == StatusError {
			ok[res.Check] = false
		}
	}
	return ok
}

// Err is nil when nothing is an error, else one error naming every failed check, target and
// fix: the reason the preflight step stops the flow with.
func (r Report) Err() error {
	errs := r.Errors()
	if len(errs) == 0 {
		return nil
	}
	parts := make([]string, len(errs))
	for i, e := range errs {
		parts[i] = fmt.Sprintf("%s %s: %s", e.Check, e.Target, e.Message)
		if e.Fix != "" {
			parts[i] += " (fix: " + e.Fix + ")"
		}
	}
	return fmt.Errorf("preflight: %d error(s): %s", len(errs), strings.Join(parts, "; "))
}

// Names lists every check's name, in order.
func Names() []string {
	names := make([]string, len(checks))
	for i, c := range checks {
		names[i] = c.Name
	}
	return names
}

// Checks returns the registered checks, in order.
func Checks() []Check { return slices.Clone(checks) }

// ValidateSkip says which of names is not a check.
func ValidateSkip(names []string) error {
	for _, n := range names {
		if !slices.Contains(Names(), n) {
			return fmt.Errorf("doctor: no check named %q; the checks are %s", n, strings.Join(Names(), ", "))
		}
	}
	return nil
}

// grace is how long past its deadline a check may take to return before it is reported as
// hung (its goroutine is then left to finish on its own).
const grace = 2 * time.Second

// Run runs every check, except those named in skip, concurrently, each under its own
// deadline, and returns their results in the checks' order.
func Run(ctx context.Context, env Env, skip []string) Report {
	if env.Log == nil {
		env.Log = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	per := make([][]Result, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		if slices.Contains(skip, c.Name) {
			per[i] = []Result{{Check: c.Name, Target: "-", Status: StatusSkipped, Message: "skipped on request (--skip-preflight " + c.Name + ")"}}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			per[i] = runOne(ctx, c, &env)
		}()
	}
	wg.Wait()
	r := Report{Time: start, Duration: time.Since(start)}
	for _, rs := range per {
		r.Results = append(r.Results, rs...)
	}
	return r
}

func runOne(ctx context.Context, c Check, env *Env) []Result {
	cctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	done := make(chan []Result, 1)
	go func() { done <- c.Run(cctx, env) }()
	var rs []Result
	select {
	case rs = <-done:
	case <-time.After(c.Timeout + grace):
		rs = []Result{{Target: "-", Status: StatusError, Message: fmt.Sprintf("did not finish within %s", c.Timeout),
			Fix: "see the appliance's log for what it was waiting for"}}
	}
	for i := range rs {
		rs[i].Check = c.Name
		env.Log.Debug("doctor: result", "check", c.Name, "target", rs[i].Target, "status", rs[i].Status, "message", rs[i].Message)
	}
	return rs
}

// Helpers the checks build their results with.

func ok(target, format string, args ...any) Result {
	return Result{Target: target, Status: StatusOK, Message: fmt.Sprintf(format, args...)}
}

func skipped(target, why string) Result {
	return Result{Target: target, Status: StatusSkipped, Message: why}
}

func warning(target, fix, format string, args ...any) Result {
	return Result{Target: target, Status: StatusWarning, Message: fmt.Sprintf(format, args...), Fix: fix}
}

func failure(target, fix, format string, args ...any) Result {
	return Result{Target: target, Status: StatusError, Message: fmt.Sprintf(format, args...), Fix: fix}
}

// fabrics are the lab networks that have an interface of the jump host on a real fabric.
func fabrics(env *Env) []config.Network {
	if env.Loopback {
		return nil
	}
	var out []config.Network
	for _, n := range env.Lab.Networks {
		if n.Interface != "" {
			out = append(out, n)
		}
	}
	return out
}

// netTarget names a lab network and its interface for a result's target column.
func netTarget(n config.Network) string { return n.Name + " (" + n.Interface + ")" }

// unusable says why ARP or DHCP cannot be sent on a network's interface ("" when they can):
// the interfaces check reports the details, the probing checks only point there.
func unusable(n config.Network) string {
	ifi, err := net.InterfaceByName(n.Interface)
	switch {
	case err != nil:
		return "interface " + n.Interface + " does not exist"
	case ifi.Flags&net.FlagUp == 0:
		return "interface " + n.Interface + " is down"
	}
	return ""
}

// fixInterfacesFirst is the fix of a probe that could not be sent.
const fixInterfacesFirst = "fix what the interfaces check reports for this network first"
