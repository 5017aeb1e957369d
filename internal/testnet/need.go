package testnet

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Need skips t unless this machine has what, one of:
//
//	"ipv6"       ::1 on loopback
//	"tracefs"    a kernel with tracefs (/proc/filesystems)
//	"linux X.Y"  a kernel of release X.Y or later
//	"root"       user id 0
//	"CAP_NAME"   the capability in the effective set, as CAP_NET_ADMIN
//
// It skips, with the reason, only on a conclusive absence; a check that
// cannot tell fails t, as a kernel that should have a feature but fails
// is a failure. An unknown what is the test's mistake and fails t.
func Need(t testing.TB, what string) {
	t.Helper()
	missing, err := lacks(what)
	if err != nil {
		t.Fatalf("testnet.Need(%q): %v", what, err)
	}
	if missing != "" {
		t.Skipf("needs %s: %s", what, missing)
	}
}

// lacks says what is missing of what; "" when nothing is.
func lacks(what string) (string, error) {
	switch {
	case what == "ipv6":
		ln, err := net.Listen("tcp6", "[::1]:0")
		if errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EAFNOSUPPORT) {
			return fmt.Sprintf("no ::1 on loopback (%v)", err), nil
		}
		if err != nil {
			return "", err
		}
		return "", ln.Close()
	case what == "tracefs":
		fss, err := os.ReadFile("/proc/filesystems")
		if err != nil {
			return "", err
		}
		if !bytes.Contains(fss, []byte("\ttracefs\n")) {
			return "this kernel has no tracefs (/proc/filesystems)", nil
		}
		return "", nil
	case strings.HasPrefix(what, "linux "):
		return lacksRelease(strings.TrimPrefix(what, "linux "))
	case what == "root":
		if uid := os.Geteuid(); uid != 0 {
			return fmt.Sprintf("running as uid %d", uid), nil
		}
		return "", nil
	case strings.HasPrefix(what, "CAP_"):
		return lacksCap(what)
	}
	return "", fmt.Errorf("unknown requirement")
}

// lacksRelease compares the running kernel's release with want, "X.Y".
func lacksRelease(want string) (string, error) {
	wantV, ok := parseRelease(want)
	if !ok {
		return "", fmt.Errorf("%q is not a release such as 5.11", want)
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", err
	}
	rel := unix.ByteSliceToString(u.Release[:])
	have, ok := parseRelease(rel)
	if !ok {
		return "", fmt.Errorf("kernel release %q does not start X.Y", rel)
	}
	if have[0] < wantV[0] || have[0] == wantV[0] && have[1] < wantV[1] {
		return fmt.Sprintf("this kernel is %s", rel), nil
	}
	return "", nil
}

// parseRelease reads the major and minor numbers at the start of a kernel
// release such as "6.18.44-fc".
func parseRelease(s string) ([2]int, bool) {
	var v [2]int
	parts := strings.SplitN(s, ".", 3)
	if len(parts) < 2 {
		return v, false
	}
	minor, _, _ := strings.Cut(parts[1], "-")
	var err1, err2 error
	v[0], err1 = strconv.Atoi(parts[0])
	v[1], err2 = strconv.Atoi(minor)
	return v, err1 == nil && err2 == nil
}

// caps are the capabilities tests ask for, by name.
var caps = map[string]uint{
	"CAP_NET_ADMIN":  unix.CAP_NET_ADMIN,
	"CAP_NET_RAW":    unix.CAP_NET_RAW,
	"CAP_SYS_ADMIN":  unix.CAP_SYS_ADMIN,
	"CAP_SYS_PTRACE": unix.CAP_SYS_PTRACE,
	"CAP_BPF":        unix.CAP_BPF,
	"CAP_PERFMON":    unix.CAP_PERFMON,
}

// lacksCap reports whether the calling thread's effective set lacks name.
func lacksCap(name string) (string, error) {
	c, ok := caps[name]
	if !ok {
		return "", fmt.Errorf("unknown capability")
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return "", err
	}
	if data[c/32].Effective&(1<<(c%32)) == 0 {
		return fmt.Sprintf("%s is not in the effective set", name), nil
	}
	return "", nil
}
