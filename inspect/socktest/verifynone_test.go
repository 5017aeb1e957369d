package socktest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/procsrc"
	"github.com/sockstate/sockstate/inspect/sockdiag"
	"github.com/sockstate/sockstate/inspect/socktest"
)

// TestVerifyNoneLeakyServer is the package's reason to exist: a server
// that does not close a connection the client has closed leaves it in
// CLOSE_WAIT, and VerifyNone names it; the fixed server passes.
func TestVerifyNoneLeakyServer(t *testing.T) {
	for _, tc := range []struct {
		name  string
		leaky bool
	}{
		{name: "leaky", leaky: true},
		{name: "fixed", leaky: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ignore := socktest.IgnoreCurrent()
			s := startEcho(t, tc.leaky)
			client, server := echo(t, s)
			s.Close()
			var want []string
			if tc.leaky {
				// Let the client's FIN arrive, so that VerifyNone sees
				// the socket in CLOSE_WAIT from its first poll.
				socktest.WaitForState(t, fmt.Sprintf("src %s and dst %s", server, client), inspect.CloseWait, 5*time.Second)
				want = []string{fmt.Sprintf("socktest: 1 TCP socket left open:\n\ttcp CLOSE_WAIT %s -> %s (for T)", server, client)}
			}

			r := &recorder{TB: t}
			socktest.VerifyNone(r, ignore)
			var got []string
			for _, msg := range r.errors {
				text, times := splitTimes(t, msg)
				checkTimes(t, msg, times, socktest.DefaultTimeout)
				got = append(got, text)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("VerifyNone errors (-want +got):\n%s", diff)
			}
			if len(r.fatals) != 0 {
				t.Errorf("VerifyNone called Fatalf: %q", r.fatals)
			}
		})
	}
}

// message is a VerifyNone failure as the tests compare it: the first line,
// and the socket lines sorted.
func message(msg string) []string {
	lines := strings.Split(msg, "\n\t")
	slices.Sort(lines[1:])
	return lines
}

// leakMessage is the message VerifyNone fails with for the sockets given as
// "tcp STATE LOCAL -> PEER" after one check (Timeout(0)), as message splits
// it; nil for none.
func leakMessage(socks ...string) []string {
	if len(socks) == 0 {
		return nil
	}
	noun := "sockets"
	if len(socks) == 1 {
		noun = "socket"
	}
	lines := []string{fmt.Sprintf("socktest: %d TCP %s left open:", len(socks), noun)}
	for _, s := range socks {
		lines = append(lines, s+" (for 0s)")
	}
	slices.Sort(lines[1:])
	return lines
}

// verifyOnce runs VerifyNone with a recorder, checking once, and returns its
// failure as message splits it, or nil.
func verifyOnce(t *testing.T, opts ...socktest.Option) []string {
	t.Helper()
	r := &recorder{TB: t}
	socktest.VerifyNone(r, append(opts, socktest.Timeout(0))...)
	if len(r.fatals) != 0 {
		t.Errorf("VerifyNone called Fatalf: %q", r.fatals)
	}
	switch len(r.errors) {
	case 0:
		return nil
	case 1:
		return message(r.errors[0])
	}
	t.Errorf("VerifyNone called Errorf %d times, want at most once: %q", len(r.errors), r.errors)
	return nil
}

// line is a socket as VerifyNone names it, without the time.
func line(state string, local, peer net.Addr) string {
	return fmt.Sprintf("tcp %s %s -> %s", state, local, peer)
}

// TestVerifyNoneStates opens sockets in each state a process can hold,
// from each source, and requires VerifyNone to name exactly those.
func TestVerifyNoneStates(t *testing.T) {
	sources := []struct {
		name string
		opts []socktest.Option
	}{
		{name: "auto"},
		{name: "netlink", opts: []socktest.Option{socktest.WithSource(&sockdiag.Source{})}},
		{name: "proc", opts: []socktest.Option{socktest.WithSource(&procsrc.Source{})}},
	}
	for _, tc := range []struct {
		name string
		// open opens the sockets and returns what VerifyNone must name
		// ("tcp STATE LOCAL -> PEER"), and what the proc source names
		// where it differs.
		open func(t *testing.T) (want []string, proc []string)
	}{
		{name: "LISTEN on 127.0.0.1", open: func(t *testing.T) ([]string, []string) {
			ln := listen(t, "127.0.0.1")
			w := []string{fmt.Sprintf("tcp LISTEN %s -> 0.0.0.0:*", ln.Addr())}
			return w, w
		}},
		{name: "LISTEN on ::1", open: func(t *testing.T) ([]string, []string) {
			ln := listen(t, "::1")
			w := []string{fmt.Sprintf("tcp LISTEN %s -> [::]:*", ln.Addr())}
			return w, w
		}},
		{name: "LISTEN, plain TCP", open: func(t *testing.T) ([]string, []string) {
			var lc net.ListenConfig
			lc.SetMultipathTCP(false)
			ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			closeAll(t, ln)
			w := []string{fmt.Sprintf("tcp LISTEN %s -> 0.0.0.0:*", ln.Addr())}
			return w, w
		}},
		{name: "ESTABLISHED over MPTCP", open: func(t *testing.T) ([]string, []string) {
			ln := listen(t, "127.0.0.1")
			var d net.Dialer
			d.SetMultipathTCP(true)
			c, err := d.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			closeAll(t, c)
			if used, err := c.(*net.TCPConn).MultipathTCP(); !used {
				t.Skipf("the connection fell back to plain TCP (%v): no MPTCP in this kernel, or net.mptcp.enabled=0", err)
			}
			s, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			closeAll(t, s)
			ln.Close()
			w := []string{
				line("ESTABLISHED", c.LocalAddr(), c.RemoteAddr()),
				line("ESTABLISHED", s.LocalAddr(), s.RemoteAddr()),
			}
			return w, w
		}},
		{name: "ESTABLISHED, both ends", open: func(t *testing.T) ([]string, []string) {
			ln := listen(t, "::1")
			c, s := connect(t, ln)
			ln.Close()
			w := []string{
				line("ESTABLISHED", c.LocalAddr(), c.RemoteAddr()),
				line("ESTABLISHED", s.LocalAddr(), s.RemoteAddr()),
			}
			return w, w
		}},
		{name: "half-closed: FIN_WAIT2 and CLOSE_WAIT", open: func(t *testing.T) ([]string, []string) {
			ln := listen(t, "127.0.0.1")
			c, s := connect(t, ln)
			ln.Close()
			if err := s.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			socktest.WaitForState(t, tuple(s), inspect.FinWait2, 5*time.Second)
			socktest.WaitForState(t, tuple(c), inspect.CloseWait, 5*time.Second)
			w := []string{
				line("FIN_WAIT2", s.LocalAddr(), s.RemoteAddr()),
				line("CLOSE_WAIT", c.LocalAddr(), c.RemoteAddr()),
			}
			return w, w
		}},
		{name: "closed client: orphan FIN_WAIT2 unnamed", open: func(t *testing.T) ([]string, []string) {
			ln := listen(t, "127.0.0.1")
			c, s := connect(t, ln)
			ln.Close()
			c.Close()
			socktest.WaitForState(t, tuple(c), inspect.FinWait2, 5*time.Second)
			socktest.WaitForState(t, tuple(s), inspect.CloseWait, 5*time.Second)
			w := []string{line("CLOSE_WAIT", s.LocalAddr(), s.RemoteAddr())}
			return w, w
		}},
		{name: "TIME_WAIT unnamed", open: func(t *testing.T) ([]string, []string) {
			ln := listen(t, "127.0.0.1")
			c, s := connect(t, ln)
			ln.Close()
			s.Close()
			if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
				t.Fatalf("client read after the server closed: %v, want EOF", err)
			}
			c.Close()
			socktest.WaitForState(t, tuple(s), inspect.TimeWait, 5*time.Second)
			return nil, nil
		}},
		{name: "SYN_SENT: the handshake never ends", open: func(t *testing.T) ([]string, []string) {
			// A listener with a backlog of 0 takes one connection
			// into its accept queue, and then drops SYNs.
			ln := rawSocket(t)
			if err := unix.Bind(ln, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
				t.Fatal(err)
			}
			if err := unix.Listen(ln, 0); err != nil {
				t.Fatal(err)
			}
			lnAddr := sockAddr(t, ln)
			queued, err := net.Dial("tcp", lnAddr.String())
			if err != nil {
				t.Fatal(err)
			}
			closeAll(t, queued)
			c := rawSocket(t)
			if err := unix.Connect(c, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: int(lnAddr.Port())}); !errors.Is(err, unix.EINPROGRESS) {
				t.Fatalf("connect to a full accept queue: %v, want EINPROGRESS", err)
			}
			cAddr := sockAddr(t, c)
			socktest.WaitForState(t, fmt.Sprintf("src %s and dst %s", cAddr, lnAddr), inspect.SynSent, 5*time.Second)
			w := []string{
				fmt.Sprintf("tcp LISTEN %s -> 0.0.0.0:*", lnAddr),
				line("ESTABLISHED", queued.LocalAddr(), queued.RemoteAddr()),
				fmt.Sprintf("tcp SYN_SENT %s -> %s", cAddr, lnAddr),
			}
			return w, w
		}},
		{name: "IPv4 on an IPv6 socket", open: func(t *testing.T) ([]string, []string) {
			// A server listening on ":8080" listens on [::] for IPv4
			// too, and its connections from IPv4 clients have
			// IPv4-mapped addresses.
			ln, err := unix.Socket(unix.AF_INET6, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { unix.Close(ln) })
			if err := unix.SetsockoptInt(ln, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0); err != nil {
				t.Fatal(err)
			}
			mapped := netip.MustParseAddr("::ffff:127.0.0.1")
			if err := unix.Bind(ln, &unix.SockaddrInet6{Addr: mapped.As16()}); err != nil {
				t.Fatal(err)
			}
			if err := unix.Listen(ln, 1); err != nil {
				t.Fatal(err)
			}
			sa, err := unix.Getsockname(ln)
			if err != nil {
				t.Fatal(err)
			}
			port := sa.(*unix.SockaddrInet6).Port
			c, err := net.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				t.Fatal(err)
			}
			closeAll(t, c)
			s, _, err := unix.Accept(ln)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { unix.Close(s) })
			client := addrPortOf(c.LocalAddr())
			w := []string{
				fmt.Sprintf("tcp LISTEN [::ffff:127.0.0.1]:%d -> [::]:*", port),
				fmt.Sprintf("tcp ESTABLISHED [::ffff:127.0.0.1]:%d -> [::ffff:127.0.0.1]:%d", port, client.Port()),
				line("ESTABLISHED", c.LocalAddr(), c.RemoteAddr()),
			}
			return w, w
		}},
		{name: "bound only: CLOSE", open: func(t *testing.T) ([]string, []string) {
			fd := rawSocket(t)
			if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
				t.Fatal(err)
			}
			// /proc/net/tcp does not list bound-only sockets.
			return []string{fmt.Sprintf("tcp CLOSE %s -> 0.0.0.0:*", sockAddr(t, fd))}, nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, src := range sources {
				t.Run(src.name, func(t *testing.T) {
					ignore := socktest.IgnoreCurrent()
					want, proc := tc.open(t)
					if src.name == "proc" {
						want = proc
					}
					got := verifyOnce(t, append(src.opts, ignore)...)
					if diff := cmp.Diff(leakMessage(want...), got); diff != "" {
						t.Errorf("VerifyNone message (-want +got):\n%s", diff)
					}
				})
			}
		})
	}
}

// TestIgnoreCurrent checks that IgnoreCurrent ignores the sockets open
// when it is called, and only those, whatever they do later.
func TestIgnoreCurrent(t *testing.T) {
	outer := socktest.IgnoreCurrent()
	before := listen(t, "127.0.0.1")
	ignore := socktest.IgnoreCurrent()
	after := listen(t, "127.0.0.1")
	c, s := connect(t, before)
	beforeLine := fmt.Sprintf("tcp LISTEN %s -> 0.0.0.0:*", before.Addr())
	afterLine := fmt.Sprintf("tcp LISTEN %s -> 0.0.0.0:*", after.Addr())
	conn := []string{line("ESTABLISHED", c.LocalAddr(), c.RemoteAddr()), line("ESTABLISHED", s.LocalAddr(), s.RemoteAddr())}

	if diff := cmp.Diff(leakMessage(append(conn, beforeLine, afterLine)...), verifyOnce(t, outer)); diff != "" {
		t.Errorf("ignoring what was open before both listeners (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(leakMessage(append(conn, afterLine)...), verifyOnce(t, ignore)); diff != "" {
		t.Errorf("ignoring what was open before the second listener (-want +got):\n%s", diff)
	}
	after.Close()
	c.Close()
	s.Close()
	if diff := cmp.Diff(leakMessage(), verifyOnce(t, ignore)); diff != "" {
		t.Errorf("after closing all but the first listener (-want +got):\n%s", diff)
	}
}

// TestIgnoreLocalPort checks that IgnoreLocalPort ignores the sockets on
// the port: a listener and the connections it accepted.
func TestIgnoreLocalPort(t *testing.T) {
	ignore := socktest.IgnoreCurrent()
	ln := listen(t, "127.0.0.1")
	c, s := connect(t, ln)
	port := func(a net.Addr) uint16 { return uint16(a.(*net.TCPAddr).Port) }
	listener := fmt.Sprintf("tcp LISTEN %s -> 0.0.0.0:*", ln.Addr())
	client := line("ESTABLISHED", c.LocalAddr(), c.RemoteAddr())
	server := line("ESTABLISHED", s.LocalAddr(), s.RemoteAddr())
	for _, tc := range []struct {
		name  string
		ports []uint16
		want  []string
	}{
		{name: "none", want: []string{listener, client, server}},
		{name: "server's", ports: []uint16{port(ln.Addr())}, want: []string{client}},
		{name: "client's", ports: []uint16{port(c.LocalAddr())}, want: []string{listener, server}},
		{name: "both", ports: []uint16{port(ln.Addr()), port(c.LocalAddr())}},
		{name: "unused", ports: []uint16{9}, want: []string{listener, client, server}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := []socktest.Option{ignore}
			for _, p := range tc.ports {
				opts = append(opts, socktest.IgnoreLocalPort(p))
			}
			if diff := cmp.Diff(leakMessage(tc.want...), verifyOnce(t, opts...)); diff != "" {
				t.Errorf("VerifyNone message (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTimeout checks that VerifyNone re-checks for the Timeout: a
// connection closed within it is not reported, one closed after it is,
// and the times say how long VerifyNone saw it.
func TestTimeout(t *testing.T) {
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		// closeAfter is when a goroutine closes the connection: after
		// the delay, or, when 0, after VerifyNone returns.
		closeAfter time.Duration
		reported   bool
	}{
		{name: "closed within", timeout: 5 * time.Second, closeAfter: 100 * time.Millisecond},
		{name: "closed after a zero timeout", timeout: 0, reported: true},
		{name: "closed after a timeout", timeout: 300 * time.Millisecond, reported: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ignore := socktest.IgnoreCurrent()
			ln := listen(t, "127.0.0.1")
			c, s := connect(t, ln)
			ln.Close()
			returned := make(chan struct{})
			closed := make(chan struct{})
			go func() {
				defer close(closed)
				if tc.closeAfter > 0 {
					time.Sleep(tc.closeAfter)
				} else {
					<-returned
				}
				c.Close()
				s.Close()
			}()
			r := &recorder{TB: t}
			socktest.VerifyNone(r, ignore, socktest.Timeout(tc.timeout))
			close(returned)
			<-closed

			var want []string
			if tc.reported {
				want = []string{
					"socktest: 2 TCP sockets left open:",
					line("ESTABLISHED", c.LocalAddr(), c.RemoteAddr()) + " (for T)",
					line("ESTABLISHED", s.LocalAddr(), s.RemoteAddr()) + " (for T)",
				}
				slices.Sort(want[1:])
			}
			var got []string
			for _, msg := range r.errors {
				text, times := splitTimes(t, msg)
				checkTimes(t, msg, times, tc.timeout)
				got = append(got, message(text)...)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("VerifyNone errors (-want +got):\n%s", diff)
			}
		})
	}
}

// rawSocket opens a non-blocking IPv4 TCP socket, closed when the test
// ends, for what the net package does not do: bind without listening,
// listen with a backlog of 0.
func rawSocket(t *testing.T) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// sockAddr returns the local address of the IPv4 socket fd.
func sockAddr(t *testing.T, fd int) netip.AddrPort {
	t.Helper()
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	sa4, ok := sa.(*unix.SockaddrInet4)
	if !ok {
		t.Fatalf("socket address %#v, want IPv4", sa)
	}
	return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), uint16(sa4.Port))
}

// TestVerifyNoneManySockets holds more sockets than VerifyNone looks up
// one by one, so that it finds the rest in a dump, and requires every one
// named.
func TestVerifyNoneManySockets(t *testing.T) {
	ignore := socktest.IgnoreCurrent()
	ln := listen(t, "127.0.0.1")
	want := []string{fmt.Sprintf("tcp LISTEN %s -> 0.0.0.0:*", ln.Addr())}
	for range 150 {
		c, s := connect(t, ln)
		want = append(want, line("ESTABLISHED", c.LocalAddr(), c.RemoteAddr()), line("ESTABLISHED", s.LocalAddr(), s.RemoteAddr()))
	}
	if diff := cmp.Diff(leakMessage(want...), verifyOnce(t, ignore)); diff != "" {
		t.Errorf("VerifyNone message (-want +got):\n%s", diff)
	}
}
