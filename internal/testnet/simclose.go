package testnet

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// SimClose is a connection whose ends close at once, scripted in steps so
// that a test can look between them: both ends send their FIN before
// either has seen the other's, as when the FINs cross on a wire. Loopback
// delivers a segment before the sending call returns, so the crossing is
// made by dropping what reaches the server's end: a socket filter that
// drops every segment (SO_ATTACH_FILTER, socket(7)) holds back the
// client's FIN while the server sends its own.
type SimClose struct {
	Ended
	ln             net.Listener
	client, server *net.TCPConn
}

// StartSimClose connects to a listener on 127.0.0.1:port inside ns, then
// shuts down writing on the client and on the server's end (shutdown(2)
// SHUT_WR, a FIN like close's, keeping the descriptors): the client's FIN
// is dropped at the server's end, the server's reaches the client, which
// is in FIN_WAIT1 and so moves to CLOSING; the server's end waits in
// FIN_WAIT1. It returns once the kernel reports those states.
func (ns *NS) StartSimClose(t testing.TB, port uint16) *SimClose {
	t.Helper()
	s := &SimClose{}
	t.Cleanup(s.close)
	ns.Do(t, func() error {
		lnAddr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
		ln, err := net.Listen("tcp4", lnAddr.String())
		if err != nil {
			return err
		}
		s.ln = ln
		c, err := net.Dial("tcp4", lnAddr.String())
		if err != nil {
			return err
		}
		s.client = c.(*net.TCPConn)
		sv, err := ln.Accept()
		if err != nil {
			return err
		}
		s.server = sv.(*net.TCPConn)
		s.Ended = Ended{Listener: lnAddr, Client: s.client.LocalAddr().(*net.TCPAddr).AddrPort()}
		return nil
	})
	dropAll := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: 0}}
	control(t, s.server, func(fd int) error {
		return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: 1, Filter: &dropAll[0]})
	})
	if err := s.client.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if err := s.server.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	awaitState(t, s.client, unix.BPF_TCP_CLOSING)
	awaitState(t, s.server, unix.BPF_TCP_FIN_WAIT1)
	return s
}

// Finish lets the server's end receive again: the client's FIN,
// retransmitted, acknowledges the server's, which moves to FIN_WAIT2 and
// then TIME_WAIT; its ACK moves the client from CLOSING to TIME_WAIT.
// It returns once both full sockets are closed, with both descriptors
// closed; the listener stays until the test ends.
func (s *SimClose) Finish(t testing.TB) {
	t.Helper()
	control(t, s.server, func(fd int) error {
		return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DETACH_FILTER, 0)
	})
	awaitState(t, s.server, unix.BPF_TCP_CLOSE)
	awaitState(t, s.client, unix.BPF_TCP_CLOSE)
	s.client.Close()
	s.server.Close()
}

func (s *SimClose) close() {
	for _, c := range []interface{ Close() error }{s.client, s.server, s.ln} {
		if c != nil {
			c.Close()
		}
	}
}

// control runs fn on c's descriptor and fails t with its error.
func control(t testing.TB, c *net.TCPConn, fn func(fd int) error) {
	t.Helper()
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var ferr error
	if err := raw.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		t.Fatal(err)
	}
	if ferr != nil {
		t.Fatal(ferr)
	}
}

// awaitState waits until the kernel reports c's socket in state (TCP_INFO's
// tcpi_state), polling every 10ms for at most 10 seconds: the server's
// end learns of the client's FIN at its retransmission, 200ms or more.
func awaitState(t testing.TB, c *net.TCPConn, state int) {
	t.Helper()
	var got uint8
	for range 1000 {
		control(t, c, func(fd int) error {
			info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
			if err == nil {
				got = info.State
			}
			return err
		})
		if int(got) == state {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%v: TCP state %d after 10s, want %d", c.LocalAddr(), got, state)
}
