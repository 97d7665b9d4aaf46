package store

// The SIGKILL durability tests: a child process (this test binary, re-run
// with crashHelperEnv set) writes in a loop and prints "ack ..." after each
// write returns; the parent SIGKILLs it mid-loop, reopens the store and
// checks that every acknowledged write is there. Nothing here is timed: the
// parent waits on the child's output, not on a clock.

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	crashHelperEnv = "CN2_STORE_CRASH_HELPER" // leases | events | docs
	crashDirEnv    = "CN2_STORE_CRASH_DIR"
	crashStartEnv  = "CN2_STORE_CRASH_START"
	crashAcks      = 300 // acks per round before the kill
	crashMovers    = 16  // MACs that move to a new IP on every write
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(crashHelperEnv); mode != "" {
		if err := crashHelper(mode, os.Getenv(crashDirEnv), os.Getenv(crashStartEnv)); err != nil {
			fmt.Fprintln(os.Stderr, "crash helper:", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// crashHelper writes until it is killed (or a generous cap), acknowledging
// each write on stdout only after the store call returned.
func crashHelper(mode, dir, startText string) error {
	start, err := strconv.Atoi(startText)
	if err != nil {
		return err
	}
	if mode == "journal" {
		compactAfter = 4 << 10 // fold every few dozen commits: the kill lands in compactions too
	}
	s, err := Open(dir)
	if err != nil {
		return err
	}
	if mode == "journal" {
		return commitUntilKilled(s, start)
	}
	for i := start; i < start+1_000_000; i++ {
		switch mode {
		case "leases":
			if err := s.PutLease(crashLease(i)); err != nil {
				return err
			}
			if err := s.PutLease(crashMover(i)); err != nil {
				return err
			}
			fmt.Printf("ack %d\n", i)
		case "events":
			seq, err := s.AppendEvent(Event{Level: "info", Source: "crash", Message: fmt.Sprint("e", i)})
			if err != nil {
				return err
			}
			fmt.Printf("ack %d %d\n", seq, i)
		case "docs":
			if err := s.PutDoc("flow", fmt.Sprint("step-", i), crashDoc{N: i}); err != nil {
				return err
			}
			if err := s.PutDoc("flow", "progress", crashDoc{N: i}); err != nil {
				return err
			}
			fmt.Printf("ack %d\n", i)
		default:
			return fmt.Errorf("unknown mode %q", mode)
		}
	}
	return s.Close()
}

// commitUntilKilled commits groups of journalGroup batches (a lease and a
// mover each) per CommitLeases call, acknowledging each batch after the call
// returned.
func commitUntilKilled(s *Store, start int) error {
	for i := start; i < start+1_000_000; i += journalGroup {
		batches := make([][]LeaseOp, journalGroup)
		for k := range batches {
			batches[k] = []LeaseOp{{Lease: crashLease(i + k)}, {Lease: crashMover(i + k)}}
		}
		for k, err := range s.CommitLeases(batches) {
			if err != nil {
				return err
			}
			fmt.Printf("ack %d\n", i+k)
		}
	}
	return s.Close()
}

const journalGroup = 7

type crashDoc struct{ N int }

// crashLease is write i's own lease: a unique MAC and IP.
func crashLease(i int) Lease {
	return Lease{
		Network: []string{"ctrl", "data"}[i%2],
		MAC:     fmt.Sprintf("02:00:00:%02x:%02x:%02x", byte(i>>16), byte(i>>8), byte(i)),
		IP:      netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}),
		Start:   t0, Expiry: t0.Add(time.Hour), Hostname: fmt.Sprint("h", i),
	}
}

// crashMover moves one of a few MACs to a fresh IP, so the kill also lands
// in writes that drop an old index entry.
func crashMover(i int) Lease {
	return Lease{
		Network: "ctrl", MAC: fmt.Sprintf("02:ff:00:00:00:%02x", i%crashMovers),
		IP:    netip.AddrFrom4([4]byte{11, byte(i >> 16), byte(i >> 8), byte(i)}),
		Start: t0, Expiry: t0.Add(time.Hour), Hostname: fmt.Sprint("h", i),
	}
}

// runUntilKilled starts the helper, SIGKILLs it after crashAcks acks, and
// returns every ack line it printed, including those after the kill was sent.
func runUntilKilled(t *testing.T, mode, dir string, start int) [][]string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashHelperEnv+"="+mode, crashDirEnv+"="+dir, crashStartEnv+"="+strconv.Itoa(start))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acks [][]string
	killed := false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] != "ack" {
			continue // e.g. test framework noise
		}
		acks = append(acks, f[1:])
		if len(acks) == crashAcks && !killed {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("helper stopped after %d acks (%v): %s", len(acks), err, stderr.String())
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("helper was not killed by SIGKILL: %v; stderr: %s", err, stderr.String())
	}
	return acks
}

func TestSIGKILLKeepsAckedLeases(t *testing.T) {
	for _, mode := range []string{"leases", "journal"} {
		t.Run(mode, func(t *testing.T) { sigkillLeases(t, mode) })
	}
}

// sigkillLeases: PutLease one by one ("leases"), or CommitLeases in groups
// with the journal folded into bbolt every few commits ("journal").
func sigkillLeases(t *testing.T, mode string) {
	dir := t.TempDir()
	for round, start := range []int{0, 100_000} { // the second round writes to the crashed file
		acks := runUntilKilled(t, mode, dir, start)
		s, err := Open(dir)
		if err != nil {
			t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
		}
		moverAcked := map[string]int{}
		for _, a := range acks {
			i, _ := strconv.Atoi(a[0])
			want := crashLease(i)
			got, ok, err := s.Lease(want.Network, want.MAC)
			if err != nil || !ok || !leaseEqual(got, want) {
				t.Errorf("round %d: acked lease %d = %+v, %v, %v; want %+v", round, i, got, ok, err, want)
			}
			if byIP, ok, _ := s.LeaseByIP(want.Network, want.IP); !ok || byIP.MAC != want.MAC {
				t.Errorf("round %d: acked lease %d not found by IP", round, i)
			}
			moverAcked[crashMover(i).MAC] = i
		}
		// A mover holds its last acked IP or a later (unacked) one, never an older one.
		for mac, i := range moverAcked {
			got, ok, err := s.Lease("ctrl", mac)
			n, _ := strconv.Atoi(strings.TrimPrefix(got.Hostname, "h"))
			if err != nil || !ok || n < i {
				t.Errorf("round %d: mover %s = %+v, %v, %v; want write %d or later", round, mac, got, ok, err, i)
			}
		}
		// Each reopen folds once; a higher generation means the helper folded too.
		if gen := journalGen(t, s); mode == "journal" && round == 1 && gen < 3 {
			t.Errorf("journal generation %d after two crashes: the helper never folded while writing", gen)
		}
		checkIndex(t, s)
		t.Logf("round %d: %d acked leases all present", round, len(acks))
		must(t, s.Close())
	}
}

func TestSIGKILLKeepsAckedEvents(t *testing.T) {
	dir := t.TempDir()
	for round, start := range []int{0, 100_000} {
		acks := runUntilKilled(t, "events", dir, start)
		s, err := Open(dir)
		if err != nil {
			t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
		}
		evs, err := s.Events(0, 0)
		if err != nil {
			t.Fatal(err)
		}
		bySeq := map[uint64]Event{}
		for _, e := range evs {
			bySeq[e.Seq] = e
		}
		for _, a := range acks {
			seq, _ := strconv.ParseUint(a[0], 10, 64)
			if e, ok := bySeq[seq]; !ok || e.Message != "e"+a[1] {
				t.Errorf("round %d: acked event %d (e%s) = %+v, %v", round, seq, a[1], e, ok)
			}
		}
		// Sequence numbers are never reused after a crash.
		last, _ := strconv.ParseUint(acks[len(acks)-1][0], 10, 64)
		next, err := s.AppendEvent(Event{Message: "after"})
		if err != nil || next <= last {
			t.Errorf("round %d: next seq %d (%v), want > %d", round, next, err, last)
		}
		t.Logf("round %d: %d acked events all present", round, len(acks))
		must(t, s.Close())
	}
}

func TestSIGKILLKeepsAckedDocs(t *testing.T) {
	dir := t.TempDir()
	for round, start := range []int{0, 100_000} {
		acks := runUntilKilled(t, "docs", dir, start)
		s, err := Open(dir)
		if err != nil {
			t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
		}
		last := 0
		for _, a := range acks {
			i, _ := strconv.Atoi(a[0])
			var d crashDoc
			if ok, err := s.GetDoc("flow", fmt.Sprint("step-", i), &d); err != nil || !ok || d.N != i {
				t.Errorf("round %d: acked doc step-%d = %+v, %v, %v", round, i, d, ok, err)
			}
			last = i
		}
		var p crashDoc
		if ok, err := s.GetDoc("flow", "progress", &p); err != nil || !ok || p.N < last {
			t.Errorf("round %d: progress = %+v, %v, %v; want %d or later", round, p, ok, err, last)
		}
		t.Logf("round %d: %d acked docs all present, progress at %d (last ack %d)", round, len(acks), p.N, last)
		must(t, s.Close())
	}
}
