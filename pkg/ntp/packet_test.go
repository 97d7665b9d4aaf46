package ntp

import (
	"errors"
	"testing"
	"time"

	"github.com/facebook/time/ntp/protocol"
)

// request is a client request of version v and mode m, as its wire bytes.
func request(t testing.TB, v, m uint8, tx time.Time) []byte {
	t.Helper()
	p := protocol.Packet{Settings: v<<3 | m, Poll: 6, Precision: -20}
	p.TxTimeSec, p.TxTimeFrac = protocol.Time(tx)
	b, err := p.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseRequest(t *testing.T) {
	tx := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	mac := append(request(t, 4, modeClient, tx), 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16)
	for _, tt := range []struct {
		name    string
		b       []byte
		ignored bool // well-formed but not answered
		bad     bool // malformed
	}{
		{"v4 client", request(t, 4, modeClient, tx), false, false},
		{"v3 client", request(t, 3, modeClient, tx), false, false},
		{"v4 client with a legacy MAC (key 1, MD5)", mac, false, false},
		{"v2 client", request(t, 2, modeClient, tx), true, false},
		{"v4 symmetric active", request(t, 4, 1, tx), true, false},
		{"v4 server reply", request(t, 4, modeServer, tx), true, false},
		{"v2 control query (mode 6)", request(t, 2, 6, tx), true, false},
		{"v2 private monlist (mode 7)", request(t, 2, 7, tx), true, false},
		{"empty", nil, false, true},
		{"47 bytes", request(t, 4, modeClient, tx)[:47], false, true},
		{"48 bytes and a stray byte", append(request(t, 4, modeClient, tx), 0xff), false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseRequest(tt.b)
			switch {
			case tt.ignored:
				if !errors.Is(err, ErrIgnored) {
					t.Fatalf("err %v, want ErrIgnored", err)
				}
			case tt.bad:
				if err == nil || errors.Is(err, ErrIgnored) {
					t.Fatalf("err %v, want a malformed-request error", err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if got := protocol.Unix(p.TxTimeSec, p.TxTimeFrac); !got.Equal(tx) {
					t.Errorf("transmit time %v, want %v", got, tx)
				}
			}
		})
	}
}

func TestAnswerFor(t *testing.T) {
	synced := SyncState{Synchronised: true, MaxError: 250 * time.Millisecond}
	for _, tt := range []struct {
		name  string
		st    SyncState
		err   error
		local int
		want  Answer
	}{
		{"synchronised", synced, nil, 0,
			Answer{Source: SourceHost, Stratum: 3, Leap: 0, RefID: 0x7F000001, RootDispersion: 250 * time.Millisecond}},
		{"synchronised, leap second tonight", SyncState{Synchronised: true, Leap: LeapInsert, MaxError: time.Millisecond}, nil, 0,
			Answer{Source: SourceHost, Stratum: 3, Leap: 1, RefID: 0x7F000001, RootDispersion: time.Millisecond}},
		{"synchronised, local stratum set: the real stratum wins", synced, nil, 10,
			Answer{Source: SourceHost, Stratum: 3, RefID: 0x7F000001, RootDispersion: 250 * time.Millisecond}},
		{"unsynchronised", SyncState{MaxError: 16 * time.Second}, nil, 0,
			Answer{Source: SourceUnsynchronised, Stratum: 16, Leap: 3, RefID: 0, RootDelay: time.Second, RootDispersion: time.Second}},
		{"unsynchronised, local stratum 10", SyncState{MaxError: 16 * time.Second}, nil, 10,
			Answer{Source: SourceLocal, Stratum: 10, Leap: 0, RefID: 0x7F7F0101}},
		{"state unreadable", synced, errors.New("adjtimex: operation not permitted"), 0,
			Answer{Source: SourceUnsynchronised, Stratum: 16, Leap: 3, RootDelay: time.Second, RootDispersion: time.Second}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := answerFor(tt.st, tt.err, tt.local); got != tt.want {
				t.Errorf("answerFor = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestReply(t *testing.T) {
	tx := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	rx := tx.Add(3 * time.Millisecond)
	for _, v := range []uint8{3, 4} {
		req, err := ParseRequest(request(t, v, modeClient, tx))
		if err != nil {
			t.Fatal(err)
		}
		a := answerFor(SyncState{Synchronised: true, MaxError: 1500 * time.Millisecond}, nil, 0)
		p := reply(req, a, rx)
		if li, vn, mode := p.Settings>>6, p.Settings>>3&7, p.Settings&7; li != 0 || vn != v || mode != modeServer {
			t.Errorf("v%d: LI %d VN %d mode %d, want 0 %d 4", v, li, vn, mode, v)
		}
		if p.OrigTimeSec != req.TxTimeSec || p.OrigTimeFrac != req.TxTimeFrac {
			t.Errorf("v%d: origin timestamp is not the request's transmit timestamp", v)
		}
		if got := protocol.Unix(p.RxTimeSec, p.RxTimeFrac); got.Sub(rx).Abs() > time.Microsecond {
			t.Errorf("v%d: receive timestamp %v, want %v", v, got, rx)
		}
		if ref := protocol.Unix(p.RefTimeSec, p.RefTimeFrac); !ref.Before(rx) {
			t.Errorf("v%d: reference time %v is not before the receive time", v, ref)
		}
		if p.Stratum != 3 || p.Poll != 6 || p.RootDispersion != 0x18000 || p.ReferenceID != 0x7F000001 {
			t.Errorf("v%d: stratum %d poll %d root dispersion %#x refid %#x", v, p.Stratum, p.Poll, p.RootDispersion, p.ReferenceID)
		}
	}
	req, _ := ParseRequest(request(t, 4, modeClient, tx))
	p := reply(req, answerFor(SyncState{}, nil, 0), rx)
	if p.Settings>>6 != leapAlarm || p.Stratum != 16 || p.RefTimeSec != 0 {
		t.Errorf("unsynchronised reply: LI %d stratum %d reference time %d, want 3, 16, 0", p.Settings>>6, p.Stratum, p.RefTimeSec)
	}
}

func TestShortFormat(t *testing.T) {
	for d, want := range map[time.Duration]uint32{
		0: 0, -time.Second: 0, time.Second: 1 << 16, 1500 * time.Millisecond: 0x18000, 100000 * time.Second: 0xFFFFFFFF,
	} {
		if got := shortFormat(d); got != want {
			t.Errorf("shortFormat(%v) = %#x, want %#x", d, got, want)
		}
	}
}
