package pxe

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// keepAlive opens a connection from the loopback address from, asks for /boot.ipxe and
// reads the answer, leaving the connection open. It returns nil if the server reset or
// closed the connection instead of answering.
func keepAlive(t *testing.T, from string, port uint16) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if errors.Is(err, syscall.ECONNRESET) {
		return nil // reset before connect returned
	}
	if err != nil {
		t.Fatalf("dial from %s: %v", from, err)
	}
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, "GET /boot.ipxe HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		c.Close()
		return nil
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		c.Close()
		return nil
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /boot.ipxe from %s: %s", from, resp.Status)
	}
	_ = c.SetDeadline(time.Time{})
	t.Cleanup(func() { c.Close() })
	return c
}

// TestHTTPConnectionCaps: connections over the per-client cap and over the total cap are
// reset, the ones within stay open, and a closed connection frees its slot.
func TestHTTPConnectionCaps(t *testing.T) {
	s, _, port := startServer(t, Config{HTTPMaxConns: 5, HTTPMaxConnsPerClient: 2})
	var held []net.Conn
	answered := map[string]int{}
	for _, from := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"} {
		for range 3 {
			if c := keepAlive(t, from, port); c != nil {
				held = append(held, c)
				answered[from]++
			}
		}
	}
	if want := map[string]int{"127.0.0.2": 2, "127.0.0.3": 2, "127.0.0.4": 1}; fmt.Sprint(answered) != fmt.Sprint(want) {
		t.Errorf("answered connections by client %v, want %v", answered, want)
	}
	if got := counter(s.m.httpRefused.WithLabelValues(refusedPerClient)); got != 2 {
		t.Errorf("refused over the per-client cap: %v, want 2", got)
	}
	if got := counter(s.m.httpRefused.WithLabelValues(refusedTotal)); got != 2 {
		t.Errorf("refused over the total cap: %v, want 2", got)
	}
	if got := s.conns.Open(); got != 5 {
		t.Errorf("open connections %d, want 5", got)
	}

	held[0].Close()
	for range 300 { // the server notices the close on its own time; a bound, not a timing check
		if s.conns.Open() == 4 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if keepAlive(t, "127.0.0.4", port) == nil {
		t.Error("a slot freed by a closed connection was not given to the next client")
	}
}

// TestHTTPIdleTimeout: a keep-alive connection left idle is closed by the server after the
// configured idle timeout.
func TestHTTPIdleTimeout(t *testing.T) {
	s, _, port := startServer(t, Config{HTTPIdleTimeout: 500 * time.Millisecond})
	c := keepAlive(t, "127.0.0.2", port)
	if c == nil {
		t.Fatal("the first connection was refused")
	}
	_ = c.SetReadDeadline(time.Now().Add(60 * time.Second)) // a bound for a loaded machine
	_, err := c.Read(make([]byte, 1))
	if !errors.Is(err, io.EOF) {
		t.Fatalf("idle connection: read %v, want EOF (closed by the server)", err)
	}
	for range 300 {
		if s.conns.Open() == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("%d connections still counted open after the idle one was closed", s.conns.Open())
}

// TestHTTPACL: a client address outside the allowed networks is reset before it can send
// anything; loopback and the allowed networks are answered.
func TestHTTPACL(t *testing.T) {
	c, err := compile(Config{AllowFrom: []netip.Prefix{netip.MustParsePrefix("172.16.0.0/24")}})
	if err != nil {
		t.Fatal(err)
	}
	for a, want := range map[string]bool{
		"127.0.0.1": true, "127.0.0.9": true, "::1": true, "172.16.0.11": true,
		"::ffff:172.16.0.11": true, "172.16.1.1": false, "10.0.0.1": false, "192.0.2.1": false,
	} {
		if got := c.allowed(netip.MustParseAddr(a)); got != want {
			t.Errorf("allowed(%s) = %v, want %v", a, got, want)
		}
	}

	// The limiter applies the ACL on accept: 127.0.0.3 stands for an outsider here.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := make(chan string, 4)
	outsider := netip.MustParseAddr("127.0.0.3")
	cl := NewConnLimiter(func() ConnLimits {
		return ConnLimits{Allowed: func(a netip.Addr) bool { return a != outsider }}
	}, func(reason string) { refused <- reason }, nil)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })}
	go func() { _ = srv.Serve(cl.Listener(ln)) }()
	t.Cleanup(func() { srv.Close() })
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	if keepAlive(t, "127.0.0.3", port) != nil {
		t.Error("the outsider was answered")
	}
	if r := <-refused; r != refusedACL {
		t.Errorf("refusal reason %q, want %q", r, refusedACL)
	}
	if keepAlive(t, "127.0.0.2", port) == nil {
		t.Error("an allowed client was refused")
	}
}

func TestHTTPBudget(t *testing.T) {
	for _, c := range []struct {
		limit        uint64
		budget, boot int
	}{
		{0, 128, 64}, {1024, 128, 64}, {4096, 3072, 1536}, {65536, 64512, DefaultHTTPMaxConns},
	} {
		if b, m := HTTPBudget(c.limit), DefaultMaxConns(c.limit); b != c.budget || m != c.boot {
			t.Errorf("limit %d: budget %d, boot cap %d; want %d, %d", c.limit, b, m, c.budget, c.boot)
		}
	}
}

// TestDownloadDeadlineMovesWithProgress: a download that takes several times writeStall in
// all finishes while the client keeps reading; a client that stops reading is cut.
func TestDownloadDeadlineMovesWithProgress(t *testing.T) {
	old := writeStall
	writeStall = 2 * time.Second
	t.Cleanup(func() { writeStall = old }) // after the server has stopped (cleanups run last first)
	const size = 64 << 20
	iso := t.TempDir() + "/big.iso"
	want := patterned(t, iso, size) // the send resumes after each deadline: from the right byte
	_, _, port := startServer(t, Config{ISOFile: iso})
	url := fmt.Sprintf("http://127.0.0.1:%d/iso/big.iso", port)

	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	var got int64
	buf := make([]byte, 1<<20)
	for {
		n, err := io.ReadFull(resp.Body, buf)
		if !bytes.Equal(buf[:n], want[got:got+int64(n)]) {
			t.Fatalf("bytes from %d are not the file's", got)
		}
		got += int64(n)
		if err != nil {
			break
		}
		time.Sleep(100 * time.Millisecond) // 64 MiB at 10 MiB/s: about 3 times writeStall
	}
	resp.Body.Close()
	if got != size {
		t.Errorf("slow but steady client got %d of %d bytes", got, size)
	}

	// A client that takes the headers and stops reading is cut after writeStall.
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /iso/big.iso HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * writeStall) // long enough for the server's deadline to pass; not a check
	_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
	n, _ := io.Copy(io.Discard, c)
	if n >= size {
		t.Errorf("a stalled client still got the whole file (%d bytes)", n)
	}
}

// patterned writes size bytes where every 8 hold their own offset, so a misplaced block shows.
func patterned(t *testing.T, path string, size int) []byte {
	t.Helper()
	b := make([]byte, size)
	for i := 0; i+8 <= size; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], uint64(i))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDownloadOneSendfileCall counts what a download costs the server: a 64 MiB file goes
// out through one call of the connection's ReadFrom (sendfile) with the file as its source,
// not one per MiB; a Range request too.
func TestDownloadOneSendfileCall(t *testing.T) {
	const size = 64 << 20
	iso := t.TempDir() + "/big.iso"
	want := patterned(t, iso, size)
	var calls, fromFile atomic.Int64
	testHookReadFrom = func(src io.Reader) {
		calls.Add(1)
		if lr, ok := src.(*io.LimitedReader); ok {
			if _, ok := lr.R.(*os.File); ok {
				fromFile.Add(1)
			}
		}
	}
	t.Cleanup(func() { testHookReadFrom = nil })
	_, _, port := startServer(t, Config{ISOFile: iso})
	url := fmt.Sprintf("http://127.0.0.1:%d/iso/big.iso", port)

	for _, c := range []struct {
		rng      string
		from, to int
	}{{"", 0, size}, {"bytes=1000-50000000", 1000, 50000001}} {
		calls.Store(0)
		fromFile.Store(0)
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if c.rng != "" {
			req.Header.Set("Range", c.rng)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want[c.from:c.to]) {
			t.Errorf("range %q: got %d bytes, not the file's %d-%d", c.rng, len(got), c.from, c.to)
		}
		if calls.Load() != 1 || fromFile.Load() != 1 {
			t.Errorf("range %q: %d ReadFrom calls (%d over the file) for %d MiB; want 1, over the file", c.rng, calls.Load(), fromFile.Load(), (c.to-c.from)>>20)
		}
	}
}
