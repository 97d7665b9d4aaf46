package bmctest

import (
	"fmt"
	"strings"
)

// RedfishHardware is what the fake's system reports of its hardware.
type RedfishHardware struct {
	LogicalProcessors int     // ProcessorSummary.LogicalProcessorCount
	MemoryGiB         float64 // MemorySummary.TotalSystemMemoryGiB
	Drives            []RedfishDrive
	// SimpleStorage lists the drives as SimpleStorage devices (older BMCs) instead of
	// Storage drives.
	SimpleStorage bool
}

// RedfishDrive is one drive.
type RedfishDrive struct {
	Name          string
	CapacityBytes int64
}

// SetHardware replaces the system's processor and memory summaries and its storage, as a
// BMC of such a machine describes them.
func (r *Redfish) SetHardware(h RedfishHardware) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sys := r.docs[RedfishSystem]
	ps, _ := sys["ProcessorSummary"].(map[string]any)
	if ps == nil {
		ps = map[string]any{}
	}
	ps["LogicalProcessorCount"] = h.LogicalProcessors
	ps["CoreCount"] = (h.LogicalProcessors + 1) / 2
	sys["ProcessorSummary"] = ps
	ms, _ := sys["MemorySummary"].(map[string]any)
	if ms == nil {
		ms = map[string]any{}
	}
	ms["TotalSystemMemoryGiB"] = h.MemoryGiB
	sys["MemorySummary"] = ms
	for p := range r.docs {
		if len(p) > len(RedfishSystem) && (strings.HasPrefix(p, RedfishSystem+"/Storage") || strings.HasPrefix(p, RedfishSystem+"/SimpleStorage")) {
			delete(r.docs, p)
		}
	}
	delete(sys, "Storage")
	delete(sys, "SimpleStorage")
	link := func(p string) map[string]any { return map[string]any{"@odata.id": p} }
	collection := func(p, typ string, members ...string) {
		var ms []any
		for _, m := range members {
			ms = append(ms, link(m))
		}
		r.docs[p] = map[string]any{"@odata.id": p, "@odata.type": typ, "Name": "collection", "Members": ms, "Members@odata.count": len(ms)}
	}
	if h.SimpleStorage {
		col, member := RedfishSystem+"/SimpleStorage", RedfishSystem+"/SimpleStorage/1"
		sys["SimpleStorage"] = link(col)
		collection(col, "#SimpleStorageCollection.SimpleStorageCollection", member)
		var devs []any
		for _, d := range h.Drives {
			devs = append(devs, map[string]any{"Name": d.Name, "CapacityBytes": d.CapacityBytes, "Status": map[string]any{"State": "Enabled"}})
		}
		r.docs[member] = map[string]any{"@odata.id": member, "@odata.type": "#SimpleStorage.v1_3_0.SimpleStorage", "Id": "1", "Name": "Simple Storage Controller", "Devices": devs}
	} else {
		col, member := RedfishSystem+"/Storage", RedfishSystem+"/Storage/1"
		sys["Storage"] = link(col)
		collection(col, "#StorageCollection.StorageCollection", member)
		var drives []any
		for i, d := range h.Drives {
			p := fmt.Sprintf("%s/Drives/%d", member, i)
			drives = append(drives, link(p))
			r.docs[p] = map[string]any{"@odata.id": p, "@odata.type": "#Drive.v1_9_0.Drive", "Id": fmt.Sprint(i), "Name": d.Name, "CapacityBytes": d.CapacityBytes, "MediaType": "SSD"}
		}
		r.docs[member] = map[string]any{"@odata.id": member, "@odata.type": "#Storage.v1_9_0.Storage", "Id": "1", "Name": "RAID Controller", "Drives": drives, "Drives@odata.count": len(drives)}
	}
	r.versions[RedfishSystem]++
}
