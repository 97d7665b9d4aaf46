package ntp

import (
	"errors"
	"testing"
	"time"

	"github.com/facebook/time/ntp/protocol"
)

// FuzzParseRequest: no input panics the parser; every request it accepts is a v3/v4 client
// request whose reply parses back as a server reply of the same version that echoes the
// request's transmit time.
func FuzzParseRequest(f *testing.F) {
	tx := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, seed := range [][]byte{
		request(f, 4, modeClient, tx),
		request(f, 3, modeClient, tx),
		request(f, 2, 7, tx),
		request(f, 4, 6, tx),
		append(request(f, 4, modeClient, tx), 0, 0, 0, 0),             // crypto-NAK
		append(request(f, 4, modeClient, tx), 0x01, 0x04, 0x00, 0x24), // NTS unique identifier header, truncated
		append(request(f, 4, modeClient, tx), make([]byte, 16)...),    // zero extension field
		append(request(f, 4, modeClient, tx), 0x20, 0x00, 0x00, 0x10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12), // unknown field type
		{0x1b},
		nil,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := ParseRequest(b)
		if err != nil {
			if req != nil {
				t.Fatal("a request together with an error")
			}
			return
		}
		if v := version(req.Settings); (v != 3 && v != 4) || req.Settings&7 != modeClient {
			t.Fatalf("accepted settings %#x", req.Settings)
		}
		for _, a := range []Answer{answerFor(SyncState{Synchronised: true}, nil, 0), answerFor(SyncState{}, nil, 0), answerFor(SyncState{}, nil, 7)} {
			out, err := reply(req, a, tx).Bytes()
			if err != nil {
				t.Fatal(err)
			}
			back, err := protocol.BytesToPacket(out)
			if err != nil {
				t.Fatalf("reply does not parse: %v", err)
			}
			if _, err := ParseRequest(out); !errors.Is(err, ErrIgnored) {
				t.Fatalf("a reply parsed as a request: %v", err)
			}
			if back.Settings&7 != modeServer || version(back.Settings) != version(req.Settings) ||
				back.OrigTimeSec != req.TxTimeSec || back.OrigTimeFrac != req.TxTimeFrac || back.Stratum != a.Stratum {
				t.Fatalf("reply %+v to request %+v", back, req)
			}
		}
	})
}
