//go:build linux

package netlinkdiag_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/internal/testnet"
	"github.com/sockstate/sockstate/netlinkdiag"
)

// Socket states from include/net/tcp_states.h.
const (
	stateEstablished = 1
	stateTimeWait    = 6
	stateClose       = 7
	stateListen      = 10
)

// family is one address family the real-kernel tests run on.
type family struct {
	name     string
	af       uint8
	network  string // "4" or "6", appended to "tcp" and "udp"
	loopback string
}

var families = []family{
	{name: "IPv4", af: unix.AF_INET, network: "4", loopback: "127.0.0.1"},
	{name: "IPv6", af: unix.AF_INET6, network: "6", loopback: "::1"},
}

// skipWithoutFamily skips an IPv6 test when ::1 cannot be bound.
func skipWithoutFamily(t *testing.T, f family) {
	t.Helper()
	if f.af != unix.AF_INET6 {
		return
	}
	testnet.Need(t, "ipv6")
}

// sock is the part of a Msg that a test knows in advance.
type sock struct {
	Family   uint8
	State    uint8
	Src, Dst netip.AddrPort
	Inode    uint32
}

// cmpAddrPort compares netip.AddrPort values, whose fields are unexported.
var cmpAddrPort = cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })

func sockOf(m *netlinkdiag.Msg) sock {
	return sock{Family: m.Family, State: m.State, Src: m.Src, Dst: m.Dst, Inode: m.Inode}
}

// addrPort converts a net.Addr of a TCP or UDP socket.
func addrPort(t *testing.T, a net.Addr) netip.AddrPort {
	t.Helper()
	var ap netip.AddrPort
	switch a := a.(type) {
	case *net.TCPAddr:
		ap = a.AddrPort()
	case *net.UDPAddr:
		ap = a.AddrPort()
	default:
		t.Fatalf("address %v of type %T", a, a)
	}
	// The kernel reports an AF_INET socket's addresses as IPv4, and Go
	// hands them out as IPv4-mapped IPv6.
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// inode returns the inode of c's socket, as fstat(2) reports it.
func inode(t *testing.T, c syscall.Conn) uint32 {
	t.Helper()
	return uint32(testnet.Inode(t, c))
}

func dial(t testing.TB) *netlinkdiag.Conn {
	t.Helper()
	c, err := netlinkdiag.Dial(nil)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}

// dumpAll returns copies of every message of a dump, attributes included.
func dumpAll(t *testing.T, c *netlinkdiag.Conn, req netlinkdiag.Request) []netlinkdiag.Msg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var msgs []netlinkdiag.Msg
	err := c.Dump(ctx, req, func(m *netlinkdiag.Msg) error {
		cp := *m
		cp.Attrs = append([]byte(nil), m.Attrs...)
		msgs = append(msgs, cp)
		return nil
	})
	if err != nil {
		t.Fatalf("Dump(%+v): %v", req, err)
	}
	return msgs
}

// tuple is a socket's local and remote end.
type tuple struct{ src, dst netip.AddrPort }

// find returns the messages of the sockets with one of the tuples given.
// Tests match whole tuples: a loopback port comes back soon in another
// test's connection, and its TIME_WAIT sockets linger with the same local
// end.
func find(msgs []netlinkdiag.Msg, tuples ...tuple) []netlinkdiag.Msg {
	var out []netlinkdiag.Msg
	for _, m := range msgs {
		if slices.Contains(tuples, tuple{m.Src, m.Dst}) {
			out = append(out, m)
		}
	}
	return out
}

// listening returns the tuple of a listener or unconnected socket on a.
func listening(a netip.AddrPort) tuple {
	unspec := netip.IPv4Unspecified()
	if a.Addr().Is6() {
		unspec = netip.IPv6Unspecified()
	}
	return tuple{a, netip.AddrPortFrom(unspec, 0)}
}

// tcpPair is a listener and one connection to it, both ends accepted.
type tcpPair struct {
	ln             *net.TCPListener
	client, server *net.TCPConn
}

func newTCPPair(t *testing.T, f family) tcpPair {
	t.Helper()
	ln, err := net.Listen("tcp"+f.network, net.JoinHostPort(f.loopback, "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	client, err := net.Dial("tcp"+f.network, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	return tcpPair{ln: ln.(*net.TCPListener), client: client.(*net.TCPConn), server: server.(*net.TCPConn)}
}

func TestDumpTCP(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			skipWithoutFamily(t, f)
			p := newTCPPair(t, f)
			c := dial(t)
			lnAddr := addrPort(t, p.ln.Addr())
			clientAddr := addrPort(t, p.client.LocalAddr())
			serverAddr := addrPort(t, p.server.LocalAddr())
			want := []sock{
				{Family: f.af, State: stateListen, Src: lnAddr, Dst: netip.AddrPortFrom(unspecified(f), 0), Inode: inode(t, p.ln)},
				{Family: f.af, State: stateEstablished, Src: clientAddr, Dst: serverAddr, Inode: inode(t, p.client)},
				{Family: f.af, State: stateEstablished, Src: serverAddr, Dst: clientAddr, Inode: inode(t, p.server)},
			}

			msgs := dumpAll(t, c, netlinkdiag.Request{
				Family:   f.af,
				Protocol: unix.IPPROTO_TCP,
				States:   1<<stateListen | 1<<stateEstablished,
			})
			var got []sock
			for _, m := range find(msgs, listening(lnAddr), tuple{clientAddr, serverAddr}, tuple{serverAddr, clientAddr}) {
				got = append(got, sockOf(&m))
				if m.Cookie == 0 {
					t.Errorf("socket %v -> %v: cookie 0", m.Src, m.Dst)
				}
				if m.UID != uint32(os.Getuid()) {
					t.Errorf("socket %v -> %v: uid %d, want %d", m.Src, m.Dst, m.UID, os.Getuid())
				}
			}
			sortSocks(got)
			sortSocks(want)
			if diff := cmp.Diff(want, got, cmpAddrPort); diff != "" {
				t.Errorf("dump (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDumpStateMask requires that the kernel applies idiag_states: asking
// for LISTEN returns the listener and no ESTABLISHED socket.
func TestDumpStateMask(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			skipWithoutFamily(t, f)
			p := newTCPPair(t, f)
			c := dial(t)
			msgs := dumpAll(t, c, netlinkdiag.Request{Family: f.af, Protocol: unix.IPPROTO_TCP, States: 1 << stateListen})
			var sawListener bool
			for _, m := range msgs {
				if m.State != stateListen {
					t.Errorf("socket %v -> %v in state %d, asked for LISTEN only", m.Src, m.Dst, m.State)
				}
				if (tuple{m.Src, m.Dst}) == listening(addrPort(t, p.ln.Addr())) {
					sawListener = true
				}
			}
			if !sawListener {
				t.Errorf("listener %v missing from %d LISTEN sockets", p.ln.Addr(), len(msgs))
			}
		})
	}
}

func TestDumpUDP(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			skipWithoutFamily(t, f)
			unconn, err := net.ListenPacket("udp"+f.network, net.JoinHostPort(f.loopback, "0"))
			if err != nil {
				t.Fatal(err)
			}
			defer unconn.Close()
			conn, err := net.Dial("udp"+f.network, unconn.LocalAddr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			unconnAddr := addrPort(t, unconn.LocalAddr())
			connAddr := addrPort(t, conn.LocalAddr())
			want := []sock{
				{Family: f.af, State: stateClose, Src: unconnAddr, Dst: netip.AddrPortFrom(unspecified(f), 0), Inode: inode(t, unconn.(*net.UDPConn))},
				{Family: f.af, State: stateEstablished, Src: connAddr, Dst: unconnAddr, Inode: inode(t, conn.(*net.UDPConn))},
			}

			c := dial(t)
			msgs := dumpAll(t, c, netlinkdiag.Request{
				Family:   f.af,
				Protocol: unix.IPPROTO_UDP,
				States:   1<<stateClose | 1<<stateEstablished,
			})
			var got []sock
			for _, m := range find(msgs, listening(unconnAddr), tuple{connAddr, unconnAddr}) {
				got = append(got, sockOf(&m))
				if m.Cookie == 0 {
					t.Errorf("socket %v: cookie 0", m.Src)
				}
			}
			sortSocks(got)
			sortSocks(want)
			if diff := cmp.Diff(want, got, cmpAddrPort); diff != "" {
				t.Errorf("dump (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDumpTimeWait closes a connection from the client side first, so that
// the client's end lingers in TIME_WAIT: without an inode, with the cookie
// it had while established.
func TestDumpTimeWait(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			skipWithoutFamily(t, f)
			p := newTCPPair(t, f)
			c := dial(t)
			clientAddr := addrPort(t, p.client.LocalAddr())
			serverAddr := addrPort(t, p.server.LocalAddr())
			est := find(dumpAll(t, c, netlinkdiag.Request{Family: f.af, Protocol: unix.IPPROTO_TCP, States: 1 << stateEstablished}), tuple{clientAddr, serverAddr})
			if len(est) != 1 || est[0].Cookie == 0 {
				t.Fatalf("client end %v -> %v ESTABLISHED: %+v, want one with a cookie", clientAddr, serverAddr, est)
			}
			cookie := est[0].Cookie

			if err := p.client.Close(); err != nil {
				t.Fatal(err)
			}
			if err := p.server.Close(); err != nil {
				t.Fatal(err)
			}
			want := []sock{{Family: f.af, State: stateTimeWait, Src: clientAddr, Dst: serverAddr, Inode: 0}}
			var got []sock
			var gotCookie uint64
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				got = nil
				for _, m := range find(dumpAll(t, c, netlinkdiag.Request{Family: f.af, Protocol: unix.IPPROTO_TCP, States: 1 << stateTimeWait}), tuple{clientAddr, serverAddr}) {
					got = append(got, sockOf(&m))
					gotCookie = m.Cookie
				}
				if len(got) > 0 {
					break
				}
			}
			if diff := cmp.Diff(want, got, cmpAddrPort); diff != "" {
				t.Fatalf("TIME_WAIT dump (-want +got):\n%s", diff)
			}
			if gotCookie != cookie {
				t.Errorf("TIME_WAIT cookie %#x, want %#x as while established", gotCookie, cookie)
			}
		})
	}
}

// TestDumpAttrs asks for extensions and iterates them on a connection
// whose client end has shut down its sending side.
func TestDumpAttrs(t *testing.T) {
	cong, err := os.ReadFile("/proc/sys/net/ipv4/tcp_congestion_control")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			skipWithoutFamily(t, f)
			p := newTCPPair(t, f)
			if err := p.client.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			c := dial(t)
			clientAddr := addrPort(t, p.client.LocalAddr())
			serverAddr := addrPort(t, p.server.LocalAddr())
			found := find(dumpAll(t, c, netlinkdiag.Request{
				Family:   f.af,
				Protocol: unix.IPPROTO_TCP,
				States:   ^uint32(0),
				Ext:      netlinkdiag.ExtInfo | netlinkdiag.ExtCong | netlinkdiag.ExtSkMemInfo,
			}), tuple{clientAddr, serverAddr})
			if len(found) != 1 {
				t.Fatalf("client end %v -> %v: %d sockets, want 1", clientAddr, serverAddr, len(found))
			}
			client := &found[0]

			got := map[uint16]int{}
			ad := netlinkdiag.NewAttrDecoder(client.Attrs)
			for ad.Next() {
				got[ad.Type()]++
				switch ad.Type() {
				case netlinkdiag.AttrCong:
					if s := ad.String(); s != strings.TrimSpace(string(cong)) {
						t.Errorf("congestion control %q, want %q", s, strings.TrimSpace(string(cong)))
					}
				case netlinkdiag.AttrShutdown:
					// SEND_SHUTDOWN from include/net/sock.h.
					if s := ad.Uint8(); s != 2 {
						t.Errorf("shutdown %d, want 2 (SEND_SHUTDOWN)", s)
					}
				case netlinkdiag.AttrSkMemInfo:
					if n := len(ad.Bytes()); n < 4*unix.SK_MEMINFO_VARS || n%4 != 0 {
						t.Errorf("skmeminfo of %d bytes, want a multiple of 4 and at least %d", n, 4*unix.SK_MEMINFO_VARS)
					} else if rcvbuf := binary.NativeEndian.Uint32(ad.Bytes()[4*unix.SK_MEMINFO_RCVBUF:]); rcvbuf == 0 {
						t.Error("skmeminfo rcvbuf 0")
					}
				case netlinkdiag.AttrInfo:
					// tcp_info: tcpi_state is its first byte.
					if b := ad.Bytes(); len(b) == 0 || b[0] != client.State {
						t.Errorf("tcp_info of %d bytes does not start with state %d", len(b), client.State)
					}
				}
			}
			if err := ad.Err(); err != nil {
				t.Fatalf("attributes: %v", err)
			}
			for _, typ := range []uint16{netlinkdiag.AttrInfo, netlinkdiag.AttrCong, netlinkdiag.AttrSkMemInfo, netlinkdiag.AttrShutdown} {
				if got[typ] != 1 {
					t.Errorf("attribute %d seen %d times, want once; all: %v", typ, got[typ], got)
				}
			}
		})
	}
}

func TestLookup(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			skipWithoutFamily(t, f)
			p := newTCPPair(t, f)
			c := dial(t)
			clientAddr := addrPort(t, p.client.LocalAddr())
			serverAddr := addrPort(t, p.server.LocalAddr())
			req := netlinkdiag.Request{Family: f.af, Protocol: unix.IPPROTO_TCP}

			var got []netlinkdiag.Msg
			collect := func(m *netlinkdiag.Msg) error {
				got = append(got, *m)
				return nil
			}
			if err := c.Lookup(context.Background(), req, netlinkdiag.SockID{Src: clientAddr, Dst: serverAddr}, collect); err != nil {
				t.Fatalf("Lookup: %v", err)
			}
			if len(got) != 1 {
				t.Fatalf("Lookup delivered %d messages, want 1", len(got))
			}
			want := sock{Family: f.af, State: stateEstablished, Src: clientAddr, Dst: serverAddr, Inode: inode(t, p.client)}
			if diff := cmp.Diff(want, sockOf(&got[0]), cmpAddrPort); diff != "" {
				t.Errorf("Lookup (-want +got):\n%s", diff)
			}
			cookie := got[0].Cookie

			got = nil
			if err := c.Lookup(context.Background(), req, netlinkdiag.SockID{Src: clientAddr, Dst: serverAddr, Cookie: cookie}, collect); err != nil {
				t.Fatalf("Lookup with cookie %#x: %v", cookie, err)
			}
			if len(got) != 1 || got[0].Cookie != cookie {
				t.Errorf("Lookup with cookie %#x delivered %+v", cookie, got)
			}

			err := c.Lookup(context.Background(), req, netlinkdiag.SockID{Src: clientAddr, Dst: serverAddr, Cookie: cookie + 1}, collect)
			if !errors.Is(err, unix.ENOENT) {
				t.Errorf("Lookup with a wrong cookie: %v, want ENOENT", err)
			}
			p.client.Close()
			p.server.Close()
			// Port 1 on loopback: no connection from it can exist.
			none := netlinkdiag.SockID{Src: netip.AddrPortFrom(clientAddr.Addr(), 1), Dst: serverAddr}
			if err := c.Lookup(context.Background(), req, none, collect); !errors.Is(err, unix.ENOENT) {
				t.Errorf("Lookup of %v: %v, want ENOENT", none.Src, err)
			}
		})
	}
}

// TestLookupUDP requires SockID to mean local and remote end for UDP as
// for TCP, although the kernel reads a UDP request the other way round.
func TestLookupUDP(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			skipWithoutFamily(t, f)
			unconn, err := net.ListenPacket("udp"+f.network, net.JoinHostPort(f.loopback, "0"))
			if err != nil {
				t.Fatal(err)
			}
			defer unconn.Close()
			conn, err := net.Dial("udp"+f.network, unconn.LocalAddr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			unconnAddr := addrPort(t, unconn.LocalAddr())
			connAddr := addrPort(t, conn.LocalAddr())
			unspec := listening(unconnAddr).dst
			c := dial(t)
			req := netlinkdiag.Request{Family: f.af, Protocol: unix.IPPROTO_UDP}

			tests := []struct {
				name string
				id   netlinkdiag.SockID
				want sock
			}{
				{
					name: "connected",
					id:   netlinkdiag.SockID{Src: connAddr, Dst: unconnAddr},
					want: sock{Family: f.af, State: stateEstablished, Src: connAddr, Dst: unconnAddr, Inode: inode(t, conn.(*net.UDPConn))},
				},
				{
					name: "unconnected, from the connected one",
					id:   netlinkdiag.SockID{Src: unconnAddr, Dst: connAddr},
					want: sock{Family: f.af, State: stateClose, Src: unconnAddr, Dst: unspec, Inode: inode(t, unconn.(*net.UDPConn))},
				},
				{
					name: "unconnected, from anywhere",
					id:   netlinkdiag.SockID{Src: unconnAddr, Dst: netip.AddrPortFrom(unconnAddr.Addr(), 9)},
					want: sock{Family: f.af, State: stateClose, Src: unconnAddr, Dst: unspec, Inode: inode(t, unconn.(*net.UDPConn))},
				},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					var got []sock
					err := c.Lookup(context.Background(), req, tt.id, func(m *netlinkdiag.Msg) error {
						got = append(got, sockOf(m))
						return nil
					})
					if err != nil {
						t.Fatalf("Lookup(%v -> %v): %v", tt.id.Src, tt.id.Dst, err)
					}
					if diff := cmp.Diff([]sock{tt.want}, got, cmpAddrPort); diff != "" {
						t.Errorf("Lookup(%v -> %v) (-want +got):\n%s", tt.id.Src, tt.id.Dst, diff)
					}
				})
			}
		})
	}
}

// portEq returns inet_diag bytecode that matches sockets whose local port
// is port, as ss builds for "sport = :port": INET_DIAG_BC_S_EQ jumps 8
// bytes to the end (match) when equal and 12 bytes past it (no match)
// otherwise; the port is in the next op's u16 "no" field, native order.
func portEq(port uint16) []byte {
	const bcSEq = 11 // INET_DIAG_BC_S_EQ
	b := []byte{bcSEq, 8, 0, 0, 0, 0, 0, 0}
	binary.NativeEndian.PutUint16(b[2:4], 12)
	binary.NativeEndian.PutUint16(b[6:8], port)
	return b
}

// dportEq is portEq for the remote port (INET_DIAG_BC_D_EQ).
func dportEq(port uint16) []byte {
	b := portEq(port)
	b[0] = 12 // INET_DIAG_BC_D_EQ
	return b
}

func TestDumpBytecode(t *testing.T) {
	a := newTCPPair(t, families[0])
	b := newTCPPair(t, families[0])
	c := dial(t)
	port := addrPort(t, a.ln.Addr()).Port()
	msgs := dumpAll(t, c, netlinkdiag.Request{
		Family:   unix.AF_INET,
		Protocol: unix.IPPROTO_TCP,
		States:   1<<stateListen | 1<<stateEstablished,
		Bytecode: portEq(port),
	})
	var got []sock
	for _, m := range msgs {
		if m.Src.Port() != port {
			t.Errorf("socket %v -> %v passed a filter for local port %d", m.Src, m.Dst, port)
		}
		got = append(got, sockOf(&m))
	}
	sortSocks(got)
	want := []sock{
		{Family: unix.AF_INET, State: stateListen, Src: addrPort(t, a.ln.Addr()), Dst: netip.AddrPortFrom(netip.IPv4Unspecified(), 0), Inode: inode(t, a.ln)},
		{Family: unix.AF_INET, State: stateEstablished, Src: addrPort(t, a.server.LocalAddr()), Dst: addrPort(t, a.client.LocalAddr()), Inode: inode(t, a.server)},
	}
	sortSocks(want)
	if diff := cmp.Diff(want, got, cmpAddrPort); diff != "" {
		t.Errorf("filtered dump (-want +got):\n%s", diff)
	}
	if len(find(msgs, listening(addrPort(t, b.ln.Addr())))) != 0 {
		t.Errorf("the other listener %v passed the filter", b.ln.Addr())
	}
}

// TestDumpKernelError sends bytecode the kernel's audit rejects and expects
// its EINVAL back, then a working dump on the same Conn.
func TestDumpKernelError(t *testing.T) {
	c := dial(t)
	err := c.Dump(context.Background(), netlinkdiag.Request{
		Family:   unix.AF_INET,
		Protocol: unix.IPPROTO_TCP,
		States:   ^uint32(0),
		Bytecode: []byte{0xff, 4, 8, 0},
	}, func(*netlinkdiag.Msg) error { return nil })
	if !errors.Is(err, unix.EINVAL) {
		t.Fatalf("Dump with bad bytecode: %v, want EINVAL", err)
	}
	p := newTCPPair(t, families[0])
	if len(find(dumpAll(t, c, netlinkdiag.Request{Family: unix.AF_INET, Protocol: unix.IPPROTO_TCP, States: 1 << stateListen}), listening(addrPort(t, p.ln.Addr())))) != 1 {
		t.Errorf("listener %v not found after the refused dump", p.ln.Addr())
	}
}

// manyConns opens n loopback connections on f and returns the listener's
// address.
func manyConns(tb testing.TB, f family, n int) netip.AddrPort {
	tb.Helper()
	ln, err := net.Listen("tcp"+f.network, net.JoinHostPort(f.loopback, "0"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	accepted := make(chan error, 1)
	var servers []net.Conn
	go func() {
		for range n {
			s, err := ln.Accept()
			if err != nil {
				accepted <- err
				return
			}
			servers = append(servers, s)
		}
		accepted <- nil
	}()
	var clients []net.Conn
	for range n {
		cl, err := net.Dial("tcp"+f.network, ln.Addr().String())
		if err != nil {
			tb.Fatal(err)
		}
		clients = append(clients, cl)
	}
	if err := <-accepted; err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		// Reset rather than close, so that thousands of TIME_WAIT sockets
		// do not linger to slow down the dumps that follow.
		for _, c := range append(clients, servers...) {
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
	})
	return ln.Addr().(*net.TCPAddr).AddrPort()
}

// TestDumpStopReuse stops dumps that span several datagrams, by the
// callback's error and by cancelling ctx, and requires the next dump on
// the same Conn to be complete.
func TestDumpStopReuse(t *testing.T) {
	const n = 300
	lnAddr := manyConns(t, families[0], n)
	c := dial(t)
	req := netlinkdiag.Request{Family: unix.AF_INET, Protocol: unix.IPPROTO_TCP, States: 1 << stateEstablished, Bytecode: portEq(lnAddr.Port())}
	count := func() int {
		t.Helper()
		return len(dumpAll(t, c, req))
	}
	if got := count(); got != n {
		t.Fatalf("dump of %d connections' server ends found %d", n, got)
	}

	errStop := errors.New("stop")
	calls := 0
	err := c.Dump(context.Background(), req, func(*netlinkdiag.Msg) error {
		calls++
		return errStop
	})
	if err != errStop || calls != 1 {
		t.Errorf("Dump with a failing callback: %v after %d calls, want errStop after 1", err, calls)
	}
	if got := count(); got != n {
		t.Errorf("dump after a stopped one found %d, want %d", got, n)
	}

	ctx, cancel := context.WithCancel(context.Background())
	calls = 0
	err = c.Dump(ctx, req, func(*netlinkdiag.Msg) error {
		calls++
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) || calls == 0 || calls == n {
		t.Errorf("Dump cancelled in its callback: %v after %d calls, want context.Canceled part way", err, calls)
	}
	if err := c.Dump(ctx, req, func(*netlinkdiag.Msg) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("Dump with a cancelled ctx: %v, want context.Canceled", err)
	}
	if got := count(); got != n {
		t.Errorf("dump after a cancelled one found %d, want %d", got, n)
	}

	ctx, cancel = context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	if err := c.Dump(ctx, req, func(*netlinkdiag.Msg) error { return nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Dump past its deadline: %v, want context.DeadlineExceeded", err)
	}
	if got := count(); got != n {
		t.Errorf("dump after an expired one found %d, want %d", got, n)
	}
}

// TestConcurrentDumps runs dumps from several goroutines on one Conn; each
// must see every connection once.
func TestConcurrentDumps(t *testing.T) {
	const n = 100
	lnAddr := manyConns(t, families[0], n)
	c := dial(t)
	req := netlinkdiag.Request{Family: unix.AF_INET, Protocol: unix.IPPROTO_TCP, States: 1 << stateEstablished, Bytecode: portEq(lnAddr.Port())}
	errs := make(chan error, 4)
	for range cap(errs) {
		go func() {
			for range 10 {
				got := 0
				if err := c.Dump(context.Background(), req, func(*netlinkdiag.Msg) error {
					got++
					return nil
				}); err != nil {
					errs <- err
					return
				}
				if got != n {
					errs <- fmt.Errorf("dump found %d server ends, want %d", got, n)
					return
				}
			}
			errs <- nil
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestClosed requires requests on a closed Conn, and a second Close, to
// fail with net.ErrClosed.
func TestClosed(t *testing.T) {
	c, err := netlinkdiag.Dial(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	err = c.Dump(context.Background(), netlinkdiag.Request{Family: unix.AF_INET, Protocol: unix.IPPROTO_TCP, States: ^uint32(0)}, func(*netlinkdiag.Msg) error { return nil })
	if !errors.Is(err, net.ErrClosed) {
		t.Errorf("Dump after Close: %v, want net.ErrClosed", err)
	}
	if err := c.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close: %v, want net.ErrClosed", err)
	}
}

// TestAgreesWithSS compares a dump of a listener and a connection with what
// ss(8) reports for them: state, queues, inode and cookie.
func TestAgreesWithSS(t *testing.T) {
	ssPath, err := exec.LookPath("ss")
	if err != nil {
		t.Skipf("no ss to compare with: %v", err)
	}
	type view struct {
		State          string
		RQueue, WQueue uint32
		Inode          uint32
		Cookie         uint64
	}
	stateNames := map[uint8]string{stateEstablished: "ESTAB", stateListen: "LISTEN"}
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			skipWithoutFamily(t, f)
			p := newTCPPair(t, f)
			port := addrPort(t, p.ln.Addr()).Port()
			c := dial(t)
			msgs := dumpAll(t, c, netlinkdiag.Request{Family: f.af, Protocol: unix.IPPROTO_TCP, States: 1<<stateListen | 1<<stateEstablished, Bytecode: portEq(port)})
			msgs = append(msgs, dumpAll(t, c, netlinkdiag.Request{Family: f.af, Protocol: unix.IPPROTO_TCP, States: 1 << stateEstablished, Bytecode: dportEq(port)})...)
			want := map[tuple]view{}
			for _, m := range msgs {
				want[tuple{m.Src, m.Dst}] = view{State: stateNames[m.State], RQueue: m.RQueue, WQueue: m.WQueue, Inode: m.Inode, Cookie: m.Cookie}
			}

			filter := fmt.Sprintf("sport = :%d or dport = :%d", port, port)
			out, err := exec.Command(ssPath, "-tanHe"+f.network, filter).Output()
			if err != nil {
				t.Fatalf("ss: %v", err)
			}
			got := map[tuple]view{}
			for line := range strings.Lines(string(out)) {
				fields := strings.Fields(line)
				if len(fields) < 7 {
					t.Fatalf("ss line %q has too few fields", line)
				}
				var v view
				_, err1 := fmt.Sscan(fields[1]+" "+fields[2], &v.RQueue, &v.WQueue)
				src, err2 := netip.ParseAddrPort(fields[3])
				dst, err3 := netip.ParseAddrPort(strings.Replace(fields[4], ":*", ":0", 1))
				if err := errors.Join(err1, err2, err3); err != nil {
					t.Fatalf("ss line %q: %v", line, err)
				}
				v.State = fields[0]
				for _, kv := range fields[5:] {
					if ino, ok := strings.CutPrefix(kv, "ino:"); ok {
						_, err1 = fmt.Sscan(ino, &v.Inode)
					}
					if sk, ok := strings.CutPrefix(kv, "sk:"); ok {
						_, err2 = fmt.Sscanf(sk, "%x", &v.Cookie)
					}
				}
				if err := errors.Join(err1, err2); err != nil {
					t.Fatalf("ss line %q: %v", line, err)
				}
				got[tuple{src, dst}] = v
			}
			if len(want) != 3 {
				t.Errorf("dump found %d sockets on port %d, want 3", len(want), port)
			}
			if diff := cmp.Diff(want, got, cmpAddrPort); diff != "" {
				t.Errorf("dump vs ss (-dump +ss):\n%s", diff)
			}
		})
	}
}

// TestDialNetNS lists a network namespace of the test's own making through
// Config.NetNS: it sees the listener made there, and the caller's namespace
// does not.
func TestDialNetNS(t *testing.T) {
	type made struct {
		nsFD int
		ln   net.Listener
		err  error
	}
	ch := make(chan made, 1)
	go func() {
		// The thread is never unlocked, so it ends with this goroutine,
		// taking the changed namespace with it.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ch <- made{err: err}
			return
		}
		fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			ch <- made{err: err}
			return
		}
		ln, err := net.Listen("tcp4", "0.0.0.0:0")
		ch <- made{nsFD: fd, ln: ln, err: err}
	}()
	ns := <-ch
	if errors.Is(ns.err, unix.EPERM) {
		t.Skipf("cannot make a network namespace: %v", ns.err)
	}
	if ns.err != nil {
		t.Fatal(ns.err)
	}
	defer unix.Close(ns.nsFD)
	defer ns.ln.Close()

	c, err := netlinkdiag.Dial(&netlinkdiag.Config{NetNS: ns.nsFD})
	if err != nil {
		t.Fatalf("Dial in namespace: %v", err)
	}
	defer c.Close()
	req := netlinkdiag.Request{Family: unix.AF_INET, Protocol: unix.IPPROTO_TCP, States: ^uint32(0)}
	inNS := dumpAll(t, c, req)
	want := []sock{{Family: unix.AF_INET, State: stateListen, Src: addrPort(t, ns.ln.Addr()), Dst: netip.AddrPortFrom(netip.IPv4Unspecified(), 0), Inode: inode(t, ns.ln.(*net.TCPListener))}}
	var got []sock
	for _, m := range inNS {
		got = append(got, sockOf(&m))
	}
	if diff := cmp.Diff(want, got, cmpAddrPort); diff != "" {
		t.Fatalf("dump in the new namespace (-want +got):\n%s", diff)
	}
	for _, m := range dumpAll(t, dial(t), req) {
		if m.Cookie == inNS[0].Cookie {
			t.Errorf("the new namespace's listener %v is in the caller's namespace", m.Src)
		}
	}
}

func unspecified(f family) netip.Addr {
	if f.af == unix.AF_INET6 {
		return netip.IPv6Unspecified()
	}
	return netip.IPv4Unspecified()
}

// sortSocks orders socks by state, then local address.
func sortSocks(s []sock) {
	slices.SortFunc(s, func(a, b sock) int {
		if a.State != b.State {
			return int(a.State) - int(b.State)
		}
		return a.Src.Compare(b.Src)
	})
}
