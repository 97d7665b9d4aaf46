package ntp

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/facebook/time/ntp/protocol"
)

// Wire values (RFC 5905).
const (
	modeClient = 3
	modeServer = 4

	leapAlarm = 3 // LI: the server's clock is not synchronised

	// UnsynchronisedStratum is what an unsynchronised server announces; clients ignore it.
	UnsynchronisedStratum = 16
	// SyncedStratum is the stratum of a synchronised host. The kernel does not know its
	// daemon's stratum; that daemon is at least at 2 (it follows a server), so the appliance
	// serving its clock is at least at 3. The root dispersion, the kernel's maximum error,
	// tells clients the rest.
	SyncedStratum = 3

	precision = -20 // log2 seconds: about a microsecond
)

// Reference IDs, as chrony sends them.
const (
	// refIDHost: synchronised to the time daemon on the appliance's own host. Never a lab
	// address, so a client of ours never mistakes it for a loop through itself.
	refIDHost   = 0x7F000001 // 127.0.0.1
	refIDLocal  = 0x7F7F0101 // chrony's NTP_REFID_LOCAL: the local clock, as `local stratum` serves it
	refIDUnsync = 0
)

// Sources of an Answer.
const (
	SourceHost           = "host"           // the host clock, synchronised by its daemon
	SourceLocal          = "local"          // the host clock, unsynchronised, at the lab's local stratum
	SourceUnsynchronised = "unsynchronised" // the host clock, unsynchronised: stratum 16, leap alarm
)

// ErrIgnored marks a well-formed NTP packet the server does not answer: not a client
// request (control and private queries, mode 6 and 7, are never answered), another version,
// or NTS, which the server does not do.
var ErrIgnored = errors.New("not answered")

// ParseRequest reads an NTP client request: the 48-byte header, version 3 or 4, mode 3.
// Extension fields and a legacy MAC may follow; they are read and otherwise ignored. An error
// wraps ErrIgnored for packets that are NTP but not for us, and says what is wrong otherwise.
func ParseRequest(b []byte) (*protocol.Packet, error) {
	var p protocol.Packet
	if err := p.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("ntp: malformed request: %w", err)
	}
	if v := version(p.Settings); v != 3 && v != 4 {
		return nil, fmt.Errorf("ntp: version %d: %w", v, ErrIgnored)
	}
	if m := p.Settings & 7; m != modeClient {
		return nil, fmt.Errorf("ntp: mode %d is not a client request: %w", m, ErrIgnored)
	}
	if protocol.HasNTSField(p.ExtensionFields) {
		return nil, fmt.Errorf("ntp: NTS request: %w", ErrIgnored)
	}
	return &p, nil
}

func version(settings uint8) uint8 { return settings >> 3 & 7 }

// Answer is how the server presents the host clock to its clients.
type Answer struct {
	Source         string        `json:"source"` // SourceHost, SourceLocal or SourceUnsynchronised
	Stratum        uint8         `json:"stratum"`
	Leap           uint8         `json:"leap"` // LI: 0 none, 1 insert, 2 delete, 3 alarm (unsynchronised)
	RefID          uint32        `json:"refID"`
	RootDelay      time.Duration `json:"rootDelay"`
	RootDispersion time.Duration `json:"rootDispersion"`
}

// answerFor decides what clients are told, from the host's state (or the error reading it,
// which counts as unsynchronised) and the lab's local stratum (0: none). It follows chrony's
// reference parameters for the same three cases.
func answerFor(st SyncState, err error, localStratum int) Answer {
	switch {
	case err == nil && st.Synchronised:
		return Answer{Source: SourceHost, Stratum: SyncedStratum, Leap: uint8(st.Leap), RefID: refIDHost, RootDispersion: st.MaxError}
	case localStratum > 0:
		return Answer{Source: SourceLocal, Stratum: uint8(localStratum), RefID: refIDLocal}
	default:
		return Answer{Source: SourceUnsynchronised, Stratum: UnsynchronisedStratum, Leap: leapAlarm, RefID: refIDUnsync,
			RootDelay: time.Second, RootDispersion: time.Second}
	}
}

// reply is the answer to req, received at rx. The caller sets the transmit time just before
// it sends the reply.
func reply(req *protocol.Packet, a Answer, rx time.Time) *protocol.Packet {
	p := &protocol.Packet{
		Settings:       a.Leap<<6 | version(req.Settings)<<3 | modeServer,
		Stratum:        a.Stratum,
		Poll:           req.Poll,
		Precision:      precision,
		RootDelay:      shortFormat(a.RootDelay),
		RootDispersion: shortFormat(a.RootDispersion),
		ReferenceID:    a.RefID,
		OrigTimeSec:    req.TxTimeSec,
		OrigTimeFrac:   req.TxTimeFrac,
	}
	p.RxTimeSec, p.RxTimeFrac = protocol.Time(rx)
	if a.Source != SourceUnsynchronised {
		// The last update of the host clock is not known; a second ago is what chrony's local
		// reference says, and never after the transmit time.
		p.RefTimeSec, p.RefTimeFrac = protocol.Time(rx.Add(-time.Second))
	}
	return p
}

// shortFormat is d in NTP short format (16.16 fixed-point seconds), saturated.
func shortFormat(d time.Duration) uint32 {
	v := d.Seconds() * (1 << 16)
	switch {
	case v <= 0:
		return 0
	case v >= math.MaxUint32:
		return math.MaxUint32
	}
	return uint32(v)
}
