package bmc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"syscall"
)

// errClass sorts a failed try by what it says about the request.
type errClass int

const (
	// maybeDone: the request may have reached the BMC and been carried out (a timeout waiting
	// for the reply, a connection reset or EOF after sending, an error answer whose meaning is
	// not known). The default.
	maybeDone errClass = iota
	// notDone: certainly not carried out. The try failed before the request was sent (connect
	// refused, DNS, TLS handshake, login, reading the state first), or the BMC answered that it
	// did not do it (busy).
	notDone
	// hopeless: retrying cannot help (authentication, certificates, invalid or unsupported
	// requests, an IPMI "unspecified error").
	hopeless
)

// next is what a failed try of an operation leads to.
type next int

const (
	giveUp    next = iota // return the error
	tryAgain              // send the request again (after the backoff wait)
	readState             // a power cycle that may have happened: read the power state and decide
)

func (n next) String() string { return [...]string{"give up", "try again", "read state"}[n] }

// nextStep decides what a failed try of op leads to. Every operation but a power cycle is
// idempotent here (power on/off and media read the state first and change only what differs;
// boot device and state are set/read), so a retry is safe unless it cannot help. A power cycle
// is sent again only when it certainly was not carried out.
func nextStep(op string, err error) next {
	switch classify(err) {
	case hopeless:
		return giveUp
	case notDone:
		return tryAgain
	}
	if op == OpPowerCycle {
		return readState
	}
	return tryAgain
}

// IsPermanent reports whether retrying the operation that failed with err cannot help, by the
// Client's own rules: authentication (after the one re-login), certificates, invalid or
// unsupported requests, a missing system or domain, IPMI's "unspecified error". A stopped
// context is not permanent.
func IsPermanent(err error) bool {
	return err != nil && classify(err) == hopeless && !errors.Is(err, context.Canceled)
}

func classify(err error) errClass {
	var (
		ns   notSentError
		hp   hopelessError
		cert *tls.CertificateVerificationError
		ua   x509.UnknownAuthorityError
		ci   x509.CertificateInvalidError
		hn   x509.HostnameError
	)
	switch {
	case errors.Is(err, ErrNotSupported), errors.Is(err, ErrAuth), errors.Is(err, ErrNotFound),
		errors.Is(err, ErrInvalid), errors.Is(err, context.Canceled), errors.As(err, &hp):
		return hopeless
	case errors.As(err, &cert), errors.As(err, &ua), errors.As(err, &ci), errors.As(err, &hn),
		strings.Contains(err.Error(), "x509: "): // gofish folds some errors into text
		return hopeless
	case errors.As(err, &ns), beforeSending(err):
		return notDone
	}
	return maybeDone
}

// beforeSending reports network failures that happen before a request leaves: resolving the
// name, connecting, the TLS handshake. A refused connection is one too, and so is a refused
// UDP datagram (no one listens on the port).
func beforeSending(err error) bool {
	var (
		dns    *net.DNSError
		op     *net.OpError
		alert  tls.AlertError
		record tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &dns), errors.As(err, &op) && op.Op == "dial", errors.Is(err, syscall.ECONNREFUSED),
		errors.As(err, &alert), errors.As(err, &record), strings.Contains(err.Error(), "TLS handshake timeout"):
		return true
	}
	return false
}

// notSentError marks a failure that happened before the request that changes anything was
// sent; its text is err's.
type notSentError struct{ err error }

func (e notSentError) Error() string { return e.err.Error() }
func (e notSentError) Unwrap() error { return e.err }

// notSent marks err as a failure before anything was changed, or an answer that nothing was.
func notSent(err error) error {
	if err == nil {
		return nil
	}
	return notSentError{err}
}

// hopelessError marks a failure that retrying cannot help and that no sentinel names; its
// text is err's.
type hopelessError struct{ err error }

func (e hopelessError) Error() string { return e.err.Error() }
func (e hopelessError) Unwrap() error { return e.err }
