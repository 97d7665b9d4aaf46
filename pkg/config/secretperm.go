package config

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
)

// ServiceGroup is the group the systemd unit runs the service as (systemd/cn2-appliance.sysusers).
// A secret owned by root with this group and mode 0640 is the README's setup: the service can
// read it and nobody else can.
const ServiceGroup = "cn2-appliance"

// secretAdvice is how a secret file should be protected, for the warnings.
const secretAdvice = "make it mode 0640 owned by root with group " + ServiceGroup + " (or 0600 owned by the user the service runs as)"

// secretFileWarning says who should not but can read the secret file with info, or "" when
// only its owner and a trusted group can.
func secretFileWarning(file string, info fs.FileInfo) string {
	if isFakeExample(file) {
		return ""
	}
	gid := -1
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		gid = int(st.Gid)
	}
	return secretExposure(file, info.Mode().Perm(), gid, trustedGroup)
}

// FakeExampleMarker names the file that marks a folder of published fake secrets (the
// project's configs/example-secrets): files in it are not warned about, whatever their mode.
// Its first line must be its name, so that a stray empty file does not switch warnings off.
const FakeExampleMarker = "FAKE-EXAMPLE-SECRETS"

func isFakeExample(file string) bool {
	f, err := os.Open(filepath.Join(filepath.Dir(file), FakeExampleMarker))
	if err != nil {
		return false
	}
	defer f.Close()
	first := make([]byte, len(FakeExampleMarker)+1)
	n, _ := io.ReadFull(f, first)
	return string(first[:n]) == FakeExampleMarker+"\n"
}

// secretExposure is secretFileWarning's decision: others may never read a secret; its group
// may when it is the service's own (see trustedGroup).
func secretExposure(file string, perm fs.FileMode, gid int, trusted func(gid int) bool) string {
	if perm&0o007 != 0 {
		return fmt.Sprintf("%s is readable by others (mode %04o); it holds a secret: %s", file, perm, secretAdvice)
	}
	if perm&0o070 != 0 && !trusted(gid) {
		return fmt.Sprintf("%s is readable by group %s (mode %04o), which is not the service's; it holds a secret: %s", file, groupName(gid), perm, secretAdvice)
	}
	return ""
}

// trustedGroup says whether gid is the service's own group: the group named ServiceGroup, or
// one this process runs with (so a lab owned by the operator's group, validated by them, does
// not warn).
func trustedGroup(gid int) bool {
	if gid < 0 {
		return false
	}
	if gid == os.Getegid() {
		return true
	}
	if groups, err := os.Getgroups(); err == nil && slices.Contains(groups, gid) {
		return true
	}
	g, err := user.LookupGroup(ServiceGroup)
	return err == nil && g.Gid == strconv.Itoa(gid)
}

func groupName(gid int) string {
	if g, err := user.LookupGroupId(strconv.Itoa(gid)); err == nil {
		return g.Name
	}
	return strconv.Itoa(gid)
}
