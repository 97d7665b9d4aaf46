package liveness

import (
	"errors"
	"net"
	"time"
)

// Listener wraps a TCP listener so that the accept loop of whatever serves it (net/http,
// miekg/dns) beats b: Accept wakes up every b.Every() to beat and goes back to waiting, and
// beats again each time it hands over a connection. The server never sees the wake-ups. A
// listener without deadlines, or a nil b, is returned as it is.
func Listener(l net.Listener, b *Beat) net.Listener {
	d, ok := l.(deadliner)
	if b == nil || !ok {
		return l
	}
	return &beatingListener{Listener: l, d: d, b: b}
}

type deadliner interface{ SetDeadline(time.Time) error }

type beatingListener struct {
	net.Listener
	d deadliner
	b *Beat
}

func (l *beatingListener) Accept() (net.Conn, error) {
	for {
		_ = l.d.SetDeadline(time.Now().Add(l.b.Every()))
		c, err := l.Listener.Accept()
		var ne net.Error
		if err != nil && errors.As(err, &ne) && ne.Timeout() {
			l.b.Beat()
			continue
		}
		if err == nil {
			l.b.Beat()
		}
		return c, err
	}
}
