package bmc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"

	"github.com/bougou/go-ipmi/pkg/types"
	"github.com/digitalocean/go-libvirt"
	"github.com/stmcginnis/gofish/schemas"
)

type timeoutErr struct{}

func (timeoutErr) Error() string { return "i/o timeout" }
func (timeoutErr) Timeout() bool { return true }

// TestNextStep: operation x error class -> retry / read the state / give up. The errors are
// built the way the drivers and their libraries build them.
func TestNextStep(t *testing.T) {
	post := func(err error) error {
		return &url.Error{Op: "Post", URL: "https://bmc/redfish/v1/Systems/1/Actions/ComputerSystem.Reset", Err: err}
	}
	ipmiCC := func(cc types.CompletionCode) error {
		return fmt.Errorf("chassis control power cycle: %w", ipmiErr(types.NewResponseError(cc, "ipmiRes CompletionCode is not normal")))
	}
	redfishAnswer := func(code int) error {
		return fmt.Errorf("reset ForceRestart: %w", redfishErr(schemas.ConstructError(code, []byte("{}"))))
	}
	udp := func(op string, err error) error {
		return fmt.Errorf("chassis control power cycle: IPMI LAN: exchange failed: %w", &net.OpError{Op: op, Net: "udp", Err: err})
	}
	for _, tc := range []struct {
		name              string
		err               error
		idempotent, cycle next
	}{
		// hopeless: never retried
		{"x509 unknown authority", post(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), giveUp, giveUp},
		{"x509 in text only", errors.New("list systems: Get https://bmc: tls: failed to verify certificate: x509: certificate signed by unknown authority"), giveUp, giveUp},
		{"x509 hostname", post(x509.HostnameError{Certificate: &x509.Certificate{}, Host: "bmc"}), giveUp, giveUp},
		{"redfish 401", redfishAnswer(401), giveUp, giveUp},
		{"redfish 400 names the request", redfishAnswer(400), giveUp, giveUp},
		{"redfish 404", redfishAnswer(404), giveUp, giveUp},
		{"ipmi 0xff unspecified", ipmiCC(types.CodeUnspecifiedError), giveUp, giveUp},
		{"ipmi 0xc1 invalid command", ipmiCC(types.CodeInvalidCommand), giveUp, giveUp},
		{"ipmi 0xcc invalid data", ipmiCC(types.CodeRequestDataFieldInvalid), giveUp, giveUp},
		{"ipmi 0xd4 privilege", ipmiCC(types.CodeInsufficientPrivilege), giveUp, giveUp},
		{"ipmi login refused", fmt.Errorf("connect: %w", notSent(ipmiErr(errors.New("RAKP 2 message: unauthorized name")))), giveUp, giveUp},
		{"not supported", fmt.Errorf("%w: reset types [PowerCycle]", ErrNotSupported), giveUp, giveUp},
		{"invalid", fmt.Errorf("%w: boot device %q", ErrInvalid, "floppy"), giveUp, giveUp},
		{"not found", fmt.Errorf("%w: system %q", ErrNotFound, "nope"), giveUp, giveUp},
		{"cancelled", fmt.Errorf("get: %w", context.Canceled), giveUp, giveUp},
		// not done: safe to send again, a cycle too
		{"connect refused", post(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}), tryAgain, tryAgain},
		{"dial timeout", post(&net.OpError{Op: "dial", Net: "tcp", Err: timeoutErr{}}), tryAgain, tryAgain},
		{"dns", post(&net.DNSError{Err: "no such host", Name: "bmc.example", IsNotFound: true}), tryAgain, tryAgain},
		{"tls handshake alert", post(tls.AlertError(40)), tryAgain, tryAgain},
		{"tls handshake timeout", post(errors.New("net/http: TLS handshake timeout")), tryAgain, tryAgain},
		{"udp port closed", udp("read", os.NewSyscallError("read", syscall.ECONNREFUSED)), tryAgain, tryAgain},
		{"open failed", fmt.Errorf("connect: %w", notSent(fmt.Errorf("timed out after 10s: %w", context.DeadlineExceeded))), tryAgain, tryAgain},
		{"state read before the cycle", notSent(fmt.Errorf("get chassis status: %w", udp("read", timeoutErr{}))), tryAgain, tryAgain},
		{"redfish 503", redfishAnswer(503), tryAgain, tryAgain},
		{"ipmi 0xc0 busy", ipmiCC(types.CodeNodeBusy), tryAgain, tryAgain},
		{"libvirt error answer", fmt.Errorf("destroy n1: %w", libvirtErr(libvirt.Error{Code: 1, Message: "internal error"})), tryAgain, tryAgain},
		// maybe done: idempotent operations try again, a cycle reads the state
		{"eof after sending", post(io.EOF), tryAgain, readState},
		{"connection reset", post(&net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}), tryAgain, readState},
		{"reply timeout", fmt.Errorf("timed out after 10s: %w", post(context.DeadlineExceeded)), tryAgain, readState},
		{"ipmi reply lost", udp("read", timeoutErr{}), tryAgain, readState},
		{"ipmi 0xc3 timeout while processing", ipmiCC(types.CodeProcessTimeout), tryAgain, readState},
		{"redfish 500", redfishAnswer(500), tryAgain, readState},
		{"unknown", errors.New("something else"), tryAgain, readState},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, op := range []string{OpPowerState, OpPowerOn, OpPowerOff, OpPowerOffForce, OpSetBootDevice, OpInsertMedia, OpEjectMedia, OpProbe} {
				if got := nextStep(op, tc.err); got != tc.idempotent {
					t.Errorf("%s: %s, want %s (%v)", op, got, tc.idempotent, tc.err)
				}
			}
			if got := nextStep(OpPowerCycle, tc.err); got != tc.cycle {
				t.Errorf("%s: %s, want %s (%v)", OpPowerCycle, got, tc.cycle, tc.err)
			}
			wantPermanent := tc.idempotent == giveUp && !errors.Is(tc.err, context.Canceled)
			if got := IsPermanent(newOpError(Config{Node: "n1"}, OpPowerState, 1, tc.err)); got != wantPermanent {
				t.Errorf("IsPermanent = %t, want %t", got, wantPermanent)
			}
		})
	}
}

func TestMarksKeepTheText(t *testing.T) {
	err := errors.New("get chassis status: i/o timeout")
	for _, e := range []error{notSent(err), hopelessError{err}} {
		if e.Error() != err.Error() || !errors.Is(e, err) {
			t.Errorf("%#v: %q", e, e)
		}
	}
	if notSent(nil) != nil {
		t.Error("notSent(nil) is not nil")
	}
}
