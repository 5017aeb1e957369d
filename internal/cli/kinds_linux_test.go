package cli

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/internal/testnet"
)

// kindsNS is a namespace holding raw, MPTCP, TCP bound-only, TCP, UDP and
// unix sockets; bound holds the addresses of the bound-only ones.
type kindsNS struct {
	ns    *testnet.NS
	bound []string
	mptcp bool
}

// newKindsNS opens the sockets from a thread in a new namespace. MPTCP
// sockets are left out on a kernel without MPTCP (socket(2) refuses
// IPPROTO_MPTCP), which mptcp reports.
func newKindsNS(t *testing.T) *kindsNS {
	t.Helper()
	k := &kindsNS{ns: testnet.New(t)}
	k.ns.Zoo(t)
	var fds []int
	t.Cleanup(func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	})
	sock := func(family, typ, proto int) (int, error) {
		fd, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC, proto)
		if err == nil {
			fds = append(fds, fd)
		}
		return fd, err
	}
	var mln int
	lo4 := &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
	k.ns.Do(t, func() error {
		if _, err := sock(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP); err != nil {
			return fmt.Errorf("raw socket: %w", err)
		}
		if _, err := sock(unix.AF_INET6, unix.SOCK_RAW, unix.IPPROTO_ICMPV6); err != nil {
			return fmt.Errorf("raw6 socket: %w", err)
		}
		lo6 := &unix.SockaddrInet6{Addr: netip.IPv6Loopback().As16()}
		for _, b := range []struct {
			family int
			sa     unix.Sockaddr
		}{{unix.AF_INET, lo4}, {unix.AF_INET6, lo6}} {
			fd, err := sock(b.family, unix.SOCK_STREAM, 0)
			if err != nil {
				return err
			}
			if err := unix.Bind(fd, b.sa); err != nil {
				return fmt.Errorf("bind: %w", err)
			}
			sa, err := unix.Getsockname(fd)
			if err != nil {
				return err
			}
			k.bound = append(k.bound, sockaddrString(sa))
		}
		ln, err := sock(unix.AF_INET, unix.SOCK_STREAM, 0)
		if err != nil {
			return err
		}
		if err := unix.Bind(ln, lo4); err != nil {
			return err
		}
		if err := unix.Listen(ln, 4); err != nil {
			return err
		}
		udp, err := sock(unix.AF_INET, unix.SOCK_DGRAM, 0)
		if err != nil {
			return err
		}
		if err := unix.Bind(udp, lo4); err != nil {
			return err
		}

		mln, err = sock(unix.AF_INET, unix.SOCK_STREAM, unix.IPPROTO_MPTCP)
		if errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.ENOPROTOOPT) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("mptcp socket: %w", err)
		}
		k.mptcp = true
		if err := unix.Bind(mln, lo4); err != nil {
			return err
		}
		return unix.Listen(mln, 4)
	})
	if !k.mptcp {
		return k
	}
	// A dump before the accept makes the listener's cookie, which the
	// kernel copies into the socket it accepts: two MPTCP sockets with
	// one cookie, as a listing by anything else on the host (ss,
	// sockstate --all-netns) can leave them.
	k.ns.Run(t, "ss", "-naH", "-M")
	k.ns.Do(t, func() error {
		addr, err := unix.Getsockname(mln)
		if err != nil {
			return err
		}
		mc, err := sock(unix.AF_INET, unix.SOCK_STREAM, unix.IPPROTO_MPTCP)
		if err != nil {
			return err
		}
		if err := unix.Connect(mc, addr); err != nil {
			return fmt.Errorf("mptcp connect: %w", err)
		}
		fd, _, err := unix.Accept4(mln, unix.SOCK_CLOEXEC)
		if err != nil {
			return fmt.Errorf("mptcp accept: %w", err)
		}
		fds = append(fds, fd)
		return nil
	})
	return k
}

func sockaddrString(sa unix.Sockaddr) string {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)).String()
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port)).String()
	}
	return fmt.Sprint(sa)
}

// normalRows reads a header-less table, ss's or ls's, into sorted rows of
// its fields, with ss's state names taken to the kernel's and ss's * for
// the IPv6 wildcard address written [::].
func normalRows(text string) []string {
	var rows []string
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		for i, w := range f {
			if s, ok := testnet.SSStates[w]; ok {
				f[i] = s
			}
			if strings.HasPrefix(w, "*:") {
				f[i] = "[::]" + w[1:]
			}
		}
		if len(f) > 0 {
			rows = append(rows, strings.Join(f, " "))
		}
	}
	slices.Sort(rows)
	return rows
}

// TestLsKindsMatchSS runs ls and ss -n with the flags that choose socket
// kinds on the same sockets and requires the same rows.
//
// This kernel may lack raw_diag (CONFIG_INET_RAW_DIAG): ss then reads
// /proc/net/raw for -w, and so does ls (sockdiag's dumpRawProc).
func TestLsKindsMatchSS(t *testing.T) {
	k := newKindsNS(t)
	flags := [][]string{
		{"-wa"}, {"-ta"}, {"-ua"}, {"-xa"},
		{"-f", "inet", "-a"}, {"-f", "inet6", "-a"}, {"-f", "unix", "-a"}, {"--family=inet", "-ta"},
		{"-A", "tcp,unix_dgram", "-a"}, {"-A", "raw,udp", "-a"}, {"-A", "unix_stream", "-a"},
		{"--query=unix_seqpacket,inet", "-a"}, {"-x", "-t", "-a"},
	}
	if k.mptcp {
		flags = append(flags, []string{"-Ma"}, []string{"-A", "mptcp", "-a"})
	} else {
		t.Log("the kernel has no MPTCP: -M is not compared")
	}
	for _, f := range flags {
		t.Run(strings.Join(f, " "), func(t *testing.T) {
			want := normalRows(k.ns.Run(t, "ss", append([]string{"-nH"}, f...)...))
			got := normalRows(mustRun(t, k.ns, append([]string{"ls", "-H"}, f...)...))
			if len(want) == 0 {
				t.Fatal("ss lists nothing: the test's sockets are missing")
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-ss +ls):\n%s", diff)
			}
		})
	}
}

// TestLsBoundInactive requires ls -B to list exactly the TCP sockets the
// test bound without listening or connecting, in the state the kernel
// reports them in (CLOSE). iproute2 6.1's ss has no -B to compare with.
func TestLsBoundInactive(t *testing.T) {
	testnet.Need(t, "linux 6.5")
	k := newKindsNS(t)
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(mustRun(t, k.ns, "ls", "-BH")), "\n") {
		f := strings.Fields(line)
		if len(f) != 4 || f[0] != "0" || f[1] != "0" {
			t.Fatalf("ls -B row %q: want queues, local and peer", line)
		}
		got = append(got, f[2])
	}
	want := slices.Clone(k.bound)
	for i, b := range want {
		// ls prints [::1]:port as netip does.
		want[i] = netip.MustParseAddrPort(b).String()
	}
	slices.Sort(got)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ls -B (-bound +listed):\n%s", diff)
	}
	if out, _, code := runCLI(t, k.ns, nil, "ls", "-B", "--source", "proc"); code != 2 || out != "" {
		t.Errorf("ls -B --source proc: exit %d, stdout %q; want 2 and nothing", code, out)
	}
}
