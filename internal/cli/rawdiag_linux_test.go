package cli

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/internal/testnet"
	"github.com/sockstate/sockstate/netlinkdiag"
)

// TestLsRawDiagMatchesSS lists raw sockets through raw_diag: ls -wa from
// sock_diag equals ss -wa row for row, and every socket carries a cookie,
// which only sock_diag gives (/proc/net/raw has none), so the rows came
// from raw_diag and not from the /proc fallback. It skips on a kernel
// that answers a raw dump with ENOENT: no raw_diag there, neither built
// in nor a module the kernel could load (CONFIG_INET_RAW_DIAG), and
// TestLsKindsMatchSS compares the fallback.
func TestLsRawDiagMatchesSS(t *testing.T) {
	ns := testnet.New(t)
	var fds []int
	t.Cleanup(func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	})
	ns.Do(t, func() error {
		for _, s := range []struct {
			family, proto int
			connect       unix.Sockaddr
		}{
			{unix.AF_INET, unix.IPPROTO_ICMP, nil},
			{unix.AF_INET, unix.IPPROTO_ICMP, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}},
			{unix.AF_INET6, unix.IPPROTO_ICMPV6, nil},
		} {
			fd, err := unix.Socket(s.family, unix.SOCK_RAW|unix.SOCK_CLOEXEC, s.proto)
			if err != nil {
				return err
			}
			fds = append(fds, fd)
			if s.connect != nil {
				if err := unix.Connect(fd, s.connect); err != nil {
					return err
				}
			}
		}
		return nil
	})

	var probe error
	ns.Do(t, func() error {
		c, err := netlinkdiag.Dial(&netlinkdiag.Config{})
		if err != nil {
			return err
		}
		defer c.Close()
		probe = c.DumpOnce(context.Background(), netlinkdiag.Request{Family: unix.AF_INET, Protocol: unix.IPPROTO_RAW, States: ^uint32(0)}, func(*netlinkdiag.Msg) error { return nil })
		return nil
	})
	switch {
	case errors.Is(probe, syscall.ENOENT):
		t.Skip("this kernel has no raw_diag (CONFIG_INET_RAW_DIAG, built in or as a module): sock_diag answers a raw dump with ENOENT")
	case probe != nil:
		t.Fatalf("raw dump: %v", probe)
	}

	want := normalRows(ns.Run(t, "ss", "-nwaH"))
	got := normalRows(mustRun(t, ns, "ls", "-waH", "--source", "netlink"))
	if len(want) != 3 {
		t.Fatalf("ss -wa lists %d raw sockets, want the test's 3:\n%q", len(want), want)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-ss +ls):\n%s", diff)
	}
	var socks []struct {
		Netid  string
		Cookie string
		Local  struct{ Addr string }
	}
	if err := json.Unmarshal([]byte(mustRun(t, ns, "ls", "-waj", "--source", "netlink")), &socks); err != nil {
		t.Fatal(err)
	}
	for _, s := range socks {
		if s.Netid != "raw" || s.Cookie == "" || !netip.MustParseAddr(s.Local.Addr).IsValid() {
			t.Errorf("ls -waj: %+v, want a raw socket with a cookie (from raw_diag)", s)
		}
	}
}
