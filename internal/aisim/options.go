package aisim

import (
	"log/slog"
	"time"
)

// Timings are the simulated durations before TimeScale applies.
type Timings struct {
	Discovery   time.Duration // node booted → host registered with its inventory
	Preparing   time.Duration // preparing-for-installation
	Stage       time.Duration // each host installation stage
	Finalizing  time.Duration // finalizing
	TokenTTL    time.Duration // access token lifetime (not scaled)
	URLValidity time.Duration // presigned image URL lifetime (not scaled)
}

// DefaultTimings are roughly a real lab's, shortened.
var DefaultTimings = Timings{
	Discovery:   90 * time.Second,
	Preparing:   60 * time.Second,
	Stage:       120 * time.Second,
	Finalizing:  300 * time.Second,
	TokenTTL:    15 * time.Minute,
	URLValidity: 4 * time.Hour,
}

// Auth makes the simulator require bearer tokens issued by its own token endpoint
// (TokenPath) against one of OfflineTokens.
type Auth struct {
	OfflineTokens []string
	// ExpiredStatus is what an expired access token gets: 401 (default) or 400, as the
	// hosted service has been seen to answer.
	ExpiredStatus int
}

// Faults are injected failures; the zero value injects none.
type Faults struct {
	ErrorRate float64       // probability of a 5xx on each API request (before it acts)
	Latency   time.Duration // added before each API answer (real time)
}

// Options configure a simulator; the zero value is a real-time, no-auth simulator.
type Options struct {
	Clock     Clock   // real time when nil
	TimeScale float64 // multiplies Timings (1 when zero); 0.001 makes an install take seconds
	Timings   Timings // DefaultTimings when zero
	Auth      *Auth   // nil: no auth (self-hosted service)
	Faults    Faults
	Seed      uint64 // for the fault dice
	// ControlPlaneCount is the default number of masters a cluster needs (3).
	ControlPlaneCount int
	// NoSpecCheck turns off checking requests (refused with 400 like the service's binding)
	// and responses (recorded, see Violations) against the spec.
	NoSpecCheck bool
	Logger      *slog.Logger
	// OnPowerOff is called (outside the simulator's lock) when a node set up with
	// PowerOffOnReboot powers off at its reboot.
	OnPowerOff func(mac string)
	// OnPendingUserAction is called (outside the lock) when a host goes to
	// installing-pending-user-action because its node booted the discovery image at its
	// reboot instead of the disk (see BootDiscoveryAfterWrite).
	OnPendingUserAction func(mac string)
	// OnClusterStatus is called (outside the lock) when a cluster's status changes.
	OnClusterStatus func(clusterID, status string)
}

func (o *Options) scaled(d time.Duration) time.Duration {
	s := o.TimeScale
	if s <= 0 {
		s = 1
	}
	return time.Duration(float64(d) * s)
}
