// Package dhcp is the appliance's DHCPv4 server: one socket per lab network
// interface (github.com/insomniacslk/dhcp server4 connections bound with
// SO_BINDTODEVICE to 0.0.0.0:67), reservations from the lab file, pools for
// unknown clients, PXE / UEFI HTTP / iPXE boot answers, relayed requests
// (the network is chosen from giaddr, replies go to the relay on port 67),
// and durable leases.
//
// It owns the DHCP protocol decisions and the "leases" part of the state
// folder, which it reads and writes only through pkg/store. A lease is
// written to the store's lease journal (group-committed with the other
// changes that arrived meanwhile: one atomic batch per message, one
// fdatasync per group) before the ACK that announces it leaves the server,
// so a restart — even after SIGKILL — keeps every acknowledged lease. Every
// reply then leaves through a pacer (a token bucket per destination:
// Config.ReplyBurst at once, ReplyBurst per ReplyInterval), so a commit
// group's ACKs do not arrive as one burst that overflows a client's or a
// relay's receive buffer. One address
// is never leased to two MACs on a network: the in-memory table decides and
// the store's IP index refuses what would break it.
//
// It does not import the lab file model (pkg/config) or the DNS server: it
// takes its own plain Config, and it reports bound/renewed/released/expired
// leases to whoever registered with OnLease (the DNS record source, through
// pkg/appliance).
//
// Concurrency: Run owns every goroutine the package starts (one reader per
// interface, one lease committer, one paced answer loop, one expiry
// sweeper) and stops them all
// before it returns. The insomniacslk server4.Server is deliberately not used
// for serving: its Serve starts an untracked goroutine per packet; this
// package uses server4.NewIPv4UDPConn for the socket and its own read loop.
package dhcp
