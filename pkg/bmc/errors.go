package bmc

import (
	"net/url"
	"strconv"
	"strings"
)

// OpError is the error of one operation on one node: it names the node, the driver and the
// operation, and its text never contains the BMC password.
type OpError struct {
	Node     string
	Driver   string
	Op       string
	Attempts int
	Err      error

	msg string // Err's text, scrubbed of secrets
}

func (e *OpError) Error() string {
	s := "bmc: node " + e.Node + " (" + e.Driver + "): " + e.Op
	if e.Attempts > 1 {
		s += " (after " + strconv.Itoa(e.Attempts) + " attempts)"
	}
	return s + ": " + e.msg
}

func (e *OpError) Unwrap() error { return e.Err }

func newOpError(c Config, op string, attempts int, err error, secrets ...string) *OpError {
	return &OpError{Node: c.Node, Driver: c.Driver, Op: op, Attempts: attempts, Err: err,
		msg: scrub(err.Error(), append(secrets, c.Password)...)}
}

// scrub removes secrets from a message. Very short secrets are not searched for: replacing
// them would mangle the message without protecting much.
func scrub(msg string, secrets ...string) string {
	for _, s := range secrets {
		if len(s) >= 3 {
			msg = strings.ReplaceAll(msg, s, redacted)
		}
	}
	return msg
}

// urlSecret is the password in a URL's user info, if any, and the URL with it redacted.
func urlSecret(s string) (secret, shown string) {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return "", s
	}
	pw, _ := u.User.Password()
	return pw, u.Redacted()
}
