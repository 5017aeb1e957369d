//go:build linux

package sockiter_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/sockdiag"
	"github.com/sockstate/sockstate/inspect/sockiter"
)

// ownNetNS returns the inode of the test's network namespace.
func ownNetNS(t *testing.T) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/self/ns/net", &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// open loads the iterators or skips when the kernel conclusively lacks them.
func open(t *testing.T, protos ...inspect.Protocol) *sockiter.Iterators {
	t.Helper()
	it, err := sockiter.Open(protos)
	if errors.Is(err, sockiter.ErrUnavailable) && os.Geteuid() != 0 {
		t.Skipf("not root: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { it.Close() })
	return it
}

// TestAgainstSockDiag lists TCP sockets the test opens, in both families
// and in LISTEN, ESTABLISHED and TIME_WAIT, and UDP sockets, with the
// iterators and with sock_diag, which must agree field by field.
func TestAgainstSockDiag(t *testing.T) {
	it := open(t, inspect.TCP, inspect.UDP)
	var ports []uint16
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := c.Write([]byte("unread")); err != nil {
			t.Fatal(err)
		}
		// A connection closed by this side first goes to TIME_WAIT.
		c2, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s2, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		c2.Close()
		buf := make([]byte, 1)
		s2.Read(buf)
		s2.Close()
		ports = append(ports, uint16(ln.Addr().(*net.TCPAddr).Port))
		u, err := net.ListenPacket("udp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer u.Close()
		ports = append(ports, uint16(u.LocalAddr().(*net.UDPAddr).Port))
	}
	q := inspect.Query{States: inspect.AllStates, Filter: portFilter(ports)}
	got, err := it.Sockets(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	all, err := (&sockdiag.Source{}).Sockets(context.Background(), inspect.Query{States: inspect.AllStates})
	if err != nil {
		t.Fatal(err)
	}
	var want []inspect.Socket
	for _, s := range all {
		if q.Filter.Match(&s) {
			want = append(want, s)
		}
	}
	own := ownNetNS(t)
	key := func(s *inspect.Socket) [2]netip.AddrPort { return [2]netip.AddrPort{s.Local, s.Peer} }
	byKey := map[[2]netip.AddrPort]inspect.Socket{}
	for _, s := range got {
		if s.NetNS != own {
			t.Errorf("%v: netns %d, want %d", s.Local, s.NetNS, own)
		}
		s.NetNS = 0
		byKey[key(&s)] = s
	}
	if len(got) != len(want) || len(want) != 10 {
		t.Errorf("iterators list %d sockets, sock_diag %d, want 10 (per family: a listener, both ends of a connection, a TIME_WAIT, a UDP socket)", len(got), len(want))
	}
	for _, w := range want {
		g, ok := byKey[key(&w)]
		if !ok {
			t.Errorf("missing %v %v->%v %v", w.Protocol, w.Local, w.Peer, w.State)
			continue
		}
		w.Timer, w.Expires, w.Retransmits = 0, 0, 0 // the iterators have no timers
		if g != w {
			t.Errorf("%v %v->%v:\n got  %+v\n want %+v", w.Protocol, w.Local, w.Peer, g, w)
		}
	}
}

// portFilter keeps the sockets with a local or peer port in ports.
type portFilter []uint16

func (f portFilter) Match(s *inspect.Socket) bool {
	for _, p := range f {
		if s.Local.Port() == p || s.Peer.Port() == p {
			return true
		}
	}
	return false
}

func (f portFilter) Bytecode(inspect.Family) ([]byte, error) {
	return nil, errors.ErrUnsupported
}
