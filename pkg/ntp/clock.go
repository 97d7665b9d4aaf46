package ntp

import "time"

// Leap is a leap second the host clock has been told about.
type Leap uint8

// Leap seconds: none pending, one to insert or to delete at the end of the day (UTC).
const (
	LeapNone Leap = iota
	LeapInsert
	LeapDelete
)

// SyncState is the host clock's synchronisation as the kernel reports it.
type SyncState struct {
	// Synchronised: a time daemon (chronyd, ntpd, systemd-timesyncd) disciplines the clock.
	Synchronised bool
	Leap         Leap
	// MaxError is the kernel's bound on the clock's error: the daemon sets it at each update
	// and the kernel grows it while no update comes.
	MaxError time.Duration
}

// SyncSource reports the host clock's synchronisation state. HostClock is the real one; tests
// inject others.
type SyncSource interface {
	SyncState() (SyncState, error)
}

// HostClock reads the host clock's synchronisation state from the kernel. It only reads:
// adjtimex with no mode bits set changes nothing (and without CAP_SYS_TIME could not).
type HostClock struct{}
