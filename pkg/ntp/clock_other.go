//go:build !linux

package ntp

import "errors"

// SyncState is known on Linux only; elsewhere the host counts as unsynchronised.
func (HostClock) SyncState() (SyncState, error) {
	return SyncState{}, errors.New("ntp: the host clock's sync state is read on Linux only")
}
