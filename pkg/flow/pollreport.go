package flow

import (
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/ai"
)

// PollReport is what one poll of a waiting step cost: for benchmarks and for tests that
// assert the poll's work stays linear in the installer's hosts.
type PollReport struct {
	Step string
	// Wall is the poll's duration; CPU the whole process's CPU time meanwhile (an upper bound
	// of the poll's own: whatever else the process serves at the time counts too).
	Wall, CPU time.Duration
	// Indexes is how many times the poll indexed the installer's hosts by MAC, Hosts how many
	// hosts it indexed in all, Decodes how many inventories were decoded meanwhile (in the whole
	// process: ai.InventoryDecodes).
	Indexes, Hosts int
	Decodes        int64
}

// pollCounters is what indexHosts adds to during a poll.
type pollCounters struct {
	indexes, hosts atomic.Int64
}

// indexHosts indexes hosts by MAC and counts it for the poll's report.
func (f *Flow) indexHosts(hosts []ai.Host) hostIndex {
	f.counters.indexes.Add(1)
	f.counters.hosts.Add(int64(len(hosts)))
	return indexHosts(hosts)
}

// measurePoll runs one poll's check and, when the flow has an OnPoll, reports its cost.
func (f *Flow) measurePoll(check func() (bool, error)) (bool, error) {
	if f.d.OnPoll == nil {
		return check()
	}
	idx0, hosts0, dec0, cpu0, t0 := f.counters.indexes.Load(), f.counters.hosts.Load(), ai.InventoryDecodes(), processCPU(), time.Now()
	done, err := check()
	f.d.OnPoll(PollReport{
		Step: f.Current(), Wall: time.Since(t0), CPU: processCPU() - cpu0,
		Indexes: int(f.counters.indexes.Load() - idx0), Hosts: int(f.counters.hosts.Load() - hosts0),
		Decodes: ai.InventoryDecodes() - dec0,
	})
	return done, err
}

// processCPU is the process's user and system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
