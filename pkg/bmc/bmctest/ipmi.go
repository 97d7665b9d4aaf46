package bmctest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cn2-appliance/cn2-appliance/internal/freeport"
)

// IPMISim is OpenIPMI's ipmi_sim serving one BMC with a lanplus channel on 127.0.0.1, whose
// chassis is a shell script keeping power and boot device in files.
type IPMISim struct {
	Host, Username, Password string
	Port                     int
	Dir                      string
}

const chassisScript = `#!/bin/sh
# ipmi_sim chassis_control hook: $1=mc, $2=get|set|check, then parm [val]...
D=$(dirname "$0"); dev=$1; op=$2; shift 2
echo "$dev $op $*" >> $D/chassis.log
case $op in
  get) for p in "$@"; do
         case $p in
           power) echo "power:$(cat $D/power 2>/dev/null || echo 0)";;
           boot)  echo "boot:$(cat $D/boot 2>/dev/null || echo default)";;
           *) echo "Invalid parameter: $p"; exit 1;;
         esac; done;;
  set) [ -e $D/fail ] && exit 1   # FailChassisControl: ipmi_sim then answers 0xff
       while [ -n "$1" ]; do p=$1 v=$2; shift 2
         case $p in
           power) echo "$v" > $D/power;;
           reset) echo reset >> $D/resets;;
           boot)  echo "$v" > $D/boot;;
           identify) shift;;
           *) echo "Invalid parameter: $p"; exit 1;;
         esac; done;;
  check) exit 1;;
  *) echo "Unknown operation: $op"; exit 1;;
esac
`

const bmcEmu = `mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
sel_enable 0x20 1000 0x0a
mc_enable 0x20
`

// StartIPMISim starts ipmi_sim on a free loopback UDP port; it is killed by PID when the test
// ends. Skips when ipmi_sim is not installed.
func StartIPMISim(t testing.TB) *IPMISim {
	t.Helper()
	bin, err := exec.LookPath("ipmi_sim")
	if err != nil {
		t.Skip("ipmi_sim not installed (Debian package openipmi): skipping the IPMI peer test")
	}
	dir := t.TempDir()
	s := &IPMISim{Host: "127.0.0.1", Username: "admin", Password: "ipmi-pass-4711", Port: freeUDPPort(t), Dir: dir}
	lan := fmt.Sprintf(`name "cn2bmc"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 %d
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  chassis_control "%s 0x20"
  user 2 true  "%s" "%s" admin 10 none md2 md5 straight
`, s.Port, filepath.Join(dir, "chassis.sh"), s.Username, s.Password)
	for name, body := range map[string]string{"lan.conf": lan, "bmc.emu": bmcEmu, "chassis.sh": chassisScript} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "state"), 0o700); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "-n", "-c", filepath.Join(dir, "lan.conf"), "-f", filepath.Join(dir, "bmc.emu"), "-s", filepath.Join(dir, "state"))
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ipmi_sim: %v", err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // by PID
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("ipmi_sim (pid %d) output:\n%s\nchassis.log:\n%s", pid, out.String(), s.ChassisLog())
		}
	})
	waitUDPReady(t, s.Port, cmd)
	return s
}

// Power is the chassis power as ipmi_sim last set it: "0" or "1".
func (s *IPMISim) Power() string { return s.read("power", "0") }

// BootDevice is the boot device ipmi_sim last handed to the chassis script.
func (s *IPMISim) BootDevice() string { return s.read("boot", "default") }

// FailChassisControl makes every chassis "set" fail (or work again): ipmi_sim then answers
// Chassis Control with completion code 0xff, unspecified error.
func (s *IPMISim) FailChassisControl(t testing.TB, fail bool) {
	t.Helper()
	f := filepath.Join(s.Dir, "fail")
	if !fail {
		_ = os.Remove(f)
		return
	}
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
}

// ChassisSets counts the chassis script's "set" calls for what (e.g. "power 0": ipmi_sim powers
// the chassis off, also as the first half of a power cycle; "power 1"; "reset 1"), failed ones
// included.
func (s *IPMISim) ChassisSets(what string) int {
	return strings.Count(s.ChassisLog()+"\n", " set "+what+"\n")
}

// ChassisLog is every call of the chassis script.
func (s *IPMISim) ChassisLog() string { return s.read("chassis.log", "") }

func (s *IPMISim) read(name, def string) string {
	b, err := os.ReadFile(filepath.Join(s.Dir, name))
	if err != nil {
		return def
	}
	return strings.TrimSpace(string(b))
}

// IPMITool runs ipmitool against the simulator with lanplus and cipher suite 3 (ipmi_sim does
// not answer Get Channel Cipher Suites). Skips when ipmitool is not installed.
func (s *IPMISim) IPMITool(t testing.TB, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("ipmitool")
	if err != nil {
		t.Skip("ipmitool not installed: skipping the cross-check")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	full := append([]string{"-I", "lanplus", "-C", "3", "-H", s.Host, "-p", strconv.Itoa(s.Port), "-U", s.Username, "-P", s.Password}, args...)
	out, err := exec.CommandContext(ctx, bin, full...).CombinedOutput()
	if err != nil {
		t.Fatalf("ipmitool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func freeUDPPort(t testing.TB) int {
	t.Helper()
	port, err := freeport.Port()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// waitUDPReady waits until ipmi_sim has bound its port (binding it ourselves then fails).
func waitUDPReady(t testing.TB, port int, cmd *exec.Cmd) {
	t.Helper()
	for i := 0; i < 200; i++ {
		c, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			return
		}
		c.Close()
		if cmd.ProcessState != nil {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("ipmi_sim did not bind 127.0.0.1:%d", port)
}
