//go:build !linux

package dns

import "net"

// reusePortConfig: without SO_REUSEPORT, New callers should set UDPSockets
// to 1 on this platform; a second socket on the same address fails to bind.
func reusePortConfig() net.ListenConfig { return net.ListenConfig{} }
