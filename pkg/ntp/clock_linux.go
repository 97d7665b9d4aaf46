package ntp

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// SyncState asks the kernel (adjtimex, read only).
func (HostClock) SyncState() (SyncState, error) {
	var tx unix.Timex // Modes 0: read, set nothing
	state, err := unix.Adjtimex(&tx)
	if err != nil {
		return SyncState{}, fmt.Errorf("ntp: read the host clock's sync state (adjtimex): %w", err)
	}
	s := SyncState{
		Synchronised: tx.Status&unix.STA_UNSYNC == 0 && state != unix.TIME_ERROR,
		MaxError:     time.Duration(tx.Maxerror) * time.Microsecond,
	}
	switch state {
	case unix.TIME_INS:
		s.Leap = LeapInsert
	case unix.TIME_DEL:
		s.Leap = LeapDelete
	}
	return s, nil
}
