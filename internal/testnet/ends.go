package testnet

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Ending is a way a TCP connection ends, as the tests of watch's causes
// script it with End.
type Ending string

// The endings End scripts.
const (
	// OrderlyClientFirst: the client closes, the server reads EOF and
	// closes, then the listener closes.
	OrderlyClientFirst Ending = "orderly, client first"
	// OrderlyServerFirst: the same with the server's end first.
	OrderlyServerFirst Ending = "orderly, server first"
	// ClientLinger0: the client closes with SO_LINGER {1, 0}, sending an
	// RST; the server's end reads ECONNRESET, then closes.
	ClientLinger0 Ending = "client linger 0"
	// ServerLinger0: the same with the server's end resetting.
	ServerLinger0 Ending = "server linger 0"
	// Refused: a connect to a port no one listens on, answered with an
	// RST.
	Refused Ending = "connect refused"
	// TimedOut: a connect to Blackhole's address, whose SYNs go
	// unanswered until the kernel gives up (ETIMEDOUT).
	TimedOut Ending = "connect timed out"
	// AcceptQueue: the listener closes with a connection in its accept
	// queue, which the kernel resets.
	AcceptQueue Ending = "listener closed with a connection queued"
)

// Endings are every Ending, in a fixed order.
var Endings = []Ending{OrderlyClientFirst, OrderlyServerFirst, ClientLinger0, ServerLinger0, Refused, TimedOut, AcceptQueue}

// Ended is what End made: the listener's address (the address connected
// to, for Refused and TimedOut) and the client's.
type Ended struct {
	Listener, Client netip.AddrPort
}

// BlackholeAddr is the address Blackhole makes unanswered.
var BlackholeAddr = netip.MustParseAddr("10.255.0.2")

// Blackhole makes SYNs to BlackholeAddr vanish inside ns and makes the
// kernel give up a connect after one retry (net.ipv4.tcp_syn_retries=1:
// about three seconds): a veth pair whose peer stays down, so that what
// goes out of the first end is dropped, holds 10.255.0.1/24 on that end,
// and a permanent neighbour entry for BlackholeAddr spares the ARP whose
// failure would end the connect with EHOSTUNREACH instead. Everything
// goes with the namespace.
func (ns *NS) Blackhole(t testing.TB) {
	t.Helper()
	ns.Run(t, "ip", "link", "add", "sockstate0", "type", "veth", "peer", "name", "sockstate1")
	ns.Run(t, "ip", "addr", "add", "10.255.0.1/24", "dev", "sockstate0")
	ns.Run(t, "ip", "link", "set", "sockstate0", "up")
	ns.Run(t, "ip", "neigh", "add", BlackholeAddr.String(), "lladdr", "02:00:00:00:00:02", "dev", "sockstate0", "nud", "permanent")
	ns.Run(t, "sysctl", "-q", "-w", "net.ipv4.tcp_syn_retries=1")
}

// End scripts how inside ns over IPv4, listening on 127.0.0.1:port, and
// returns the addresses. Every socket is closed when it returns. TimedOut
// needs Blackhole first.
func (ns *NS) End(t testing.TB, how Ending, port uint16) Ended {
	t.Helper()
	var e Ended
	ns.Do(t, func() (err error) {
		e, err = end(how, port)
		return err
	})
	return e
}

func end(how Ending, port uint16) (Ended, error) {
	lnAddr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
	switch how {
	case Refused:
		return connectFails(lnAddr, unix.ECONNREFUSED)
	case TimedOut:
		return connectFails(netip.AddrPortFrom(BlackholeAddr, port), unix.ETIMEDOUT)
	}
	ln, err := net.Listen("tcp4", lnAddr.String())
	if err != nil {
		return Ended{}, err
	}
	defer ln.Close()
	c, err := net.Dial("tcp4", lnAddr.String())
	if err != nil {
		return Ended{}, err
	}
	defer c.Close()
	e := Ended{Listener: lnAddr, Client: c.LocalAddr().(*net.TCPAddr).AddrPort()}
	if how == AcceptQueue {
		// The handshake is over when connect returns: the connection
		// waits in the queue.
		return e, ln.Close()
	}
	s, err := ln.Accept()
	if err != nil {
		return e, err
	}
	defer s.Close()
	first, second := c.(*net.TCPConn), s.(*net.TCPConn)
	if how == OrderlyServerFirst || how == ServerLinger0 {
		first, second = second, first
	}
	want := io.EOF
	if how == ClientLinger0 || how == ServerLinger0 {
		if err := first.SetLinger(0); err != nil {
			return e, err
		}
		want = syscall.ECONNRESET
	}
	if err := first.Close(); err != nil {
		return e, err
	}
	if n, err := second.Read(make([]byte, 1)); !errors.Is(err, want) {
		return e, fmt.Errorf("%s: read after the peer closed: %d bytes, %v, want %v", how, n, err, want)
	}
	if err := second.Close(); err != nil {
		return e, err
	}
	return e, ln.Close()
}

// connectFails binds a socket to 127.0.0.1 (for the loopback) or
// 10.255.0.1, so that its port is known before connect, connects it to to
// and requires the connect to fail with want.
func connectFails(to netip.AddrPort, want unix.Errno) (Ended, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return Ended{}, err
	}
	defer unix.Close(fd)
	local := [4]byte{127, 0, 0, 1}
	if !to.Addr().IsLoopback() {
		local = [4]byte{10, 255, 0, 1}
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: local}); err != nil {
		return Ended{}, err
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return Ended{}, err
	}
	e := Ended{Listener: to, Client: netip.AddrPortFrom(netip.AddrFrom4(local), uint16(sa.(*unix.SockaddrInet4).Port))}
	// A non-blocking connect, then a wait for its end, bounded by the
	// kernel: an RST at once, or the SYN retries (seconds). A blocking
	// connect would return EINTR to the Go runtime's signals.
	start := time.Now()
	err = unix.Connect(fd, &unix.SockaddrInet4{Addr: to.Addr().As4(), Port: int(to.Port())})
	if !errors.Is(err, unix.EINPROGRESS) {
		return e, fmt.Errorf("connect %v from %v: %v, want EINPROGRESS", to, e.Client, err)
	}
	for range 1000 {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		n, err := unix.Poll(fds, 10_000)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || n == 0 {
			return e, fmt.Errorf("connect %v from %v: poll: %d, %v after %v", to, e.Client, n, err, time.Since(start))
		}
		soErr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if err != nil {
			return e, err
		}
		if unix.Errno(soErr) != want {
			return e, fmt.Errorf("connect %v from %v: %v after %v, want %v", to, e.Client, unix.Errno(soErr), time.Since(start), want)
		}
		return e, nil
	}
	return e, fmt.Errorf("connect %v from %v: poll interrupted 1000 times", to, e.Client)
}
