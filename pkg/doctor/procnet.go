package doctor

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// listeningSockets reads the TCP sockets in LISTEN and the unconnected UDP sockets of this
// network namespace from /proc/net.
func listeningSockets() ([]socket, error) {
	var out []socket
	for _, f := range []struct {
		file, proto, state string
	}{
		{"tcp", "tcp", "0A"}, {"tcp6", "tcp", "0A"}, // TCP_LISTEN
		{"udp", "udp", "07"}, {"udp6", "udp", "07"}, // TCP_CLOSE: bound, not connected
	} {
		socks, err := readProcNet("/proc/net/"+f.file, f.proto, f.state)
		if os.IsNotExist(err) && strings.HasSuffix(f.file, "6") {
			continue // no IPv6
		}
		if err != nil {
			return nil, err
		}
		out = append(out, socks...)
	}
	return out, nil
}

func readProcNet(path, proto, state string) ([]socket, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []socket
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[3] != state {
			continue
		}
		addr, port, err := parseProcAddr(fields[1])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, socket{proto: proto, addr: addr, port: port, inode: fields[9]})
	}
	return out, sc.Err()
}

// parseProcAddr parses /proc/net's "0100007F:0035": the address as 32-bit words in host
// (little-endian) order, the port in big-endian hex.
func parseProcAddr(s string) (netip.Addr, uint16, error) {
	a, p, ok := strings.Cut(s, ":")
	if !ok {
		return netip.Addr{}, 0, fmt.Errorf("bad socket address %q", s)
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.Addr{}, 0, fmt.Errorf("bad port in %q", s)
	}
	raw, err := hex.DecodeString(a)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.Addr{}, 0, fmt.Errorf("bad address in %q", s)
	}
	for i := 0; i < len(raw); i += 4 {
		binary.BigEndian.PutUint32(raw[i:], binary.LittleEndian.Uint32(raw[i:]))
	}
	addr, _ := netip.AddrFromSlice(raw)
	return addr, uint16(port), nil
}

// socketOwners maps socket inodes to the processes holding them, as far as /proc lets us see.
func socketOwners() map[string]owner {
	out := map[string]owner{}
	self := os.Getpid()
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range procs {
		pid, err := strconv.Atoi(filepath.Base(dir))
		if err != nil {
			continue
		}
		fds, err := os.ReadDir(filepath.Join(dir, "fd"))
		if err != nil {
			continue
		}
		name := ""
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(dir, "fd", fd.Name()))
			if err != nil || !strings.HasPrefix(link, "socket:[") {
				continue
			}
			if name == "" {
				comm, _ := os.ReadFile(filepath.Join(dir, "comm"))
				name = strings.TrimSpace(string(comm))
			}
			inode := strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")
			out[inode] = owner{pid: pid, name: name, self: pid == self}
		}
	}
	return out
}
