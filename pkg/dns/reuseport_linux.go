package dns

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// reusePortConfig sets SO_REUSEPORT so several UDP sockets, each with its
// own reader, share one address and the kernel spreads queries over them.
func reusePortConfig() net.ListenConfig {
	return net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		})
		if err != nil {
			return err
		}
		return serr
	}}
}
