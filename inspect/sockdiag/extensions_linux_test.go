package sockdiag_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sockstate/sockstate/inspect/sockdiag"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/internal/testnet"
)

// byTuple returns the socket of socks with the ends given, or nil.
func byTuple(socks []inspect.Socket, local, peer netip.AddrPort) *inspect.Socket {
	for i := range socks {
		if socks[i].Local == local && socks[i].Peer == peer {
			return &socks[i]
		}
	}
	return nil
}

func ends(c net.Conn) (local, peer netip.AddrPort) {
	return c.LocalAddr().(*net.TCPAddr).AddrPort(), c.RemoteAddr().(*net.TCPAddr).AddrPort()
}

// TestNetlinkExtensions asks for tcp_info and memory and requires them on
// exactly the sockets the kernel keeps them for, with the values the
// traffic sent determines: after the client sends n bytes and the server
// reads them, the client's bytes_acked is n+1 (the SYN counts one).
func TestNetlinkExtensions(t *testing.T) {
	ns := testnet.New(t)
	want := ns.Textbook(t, "127.0.0.1")
	var ln net.Listener
	var client, server net.Conn
	ns.Do(t, func() (err error) {
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return err
		}
		if client, err = net.Dial("tcp", ln.Addr().String()); err != nil {
			return err
		}
		server, err = ln.Accept()
		return err
	})
	t.Cleanup(func() {
		ln.Close()
		client.Close()
		server.Close()
	})
	const n = 50000
	go func() { _, _ = client.Write(make([]byte, n)) }()
	if _, err := io.ReadFull(server, make([]byte, n)); err != nil {
		t.Fatal(err)
	}
	var cong []byte
	ns.Do(t, func() (err error) {
		cong, err = os.ReadFile("/proc/sys/net/ipv4/tcp_congestion_control")
		return err
	})

	src := &sockdiag.Source{NetNS: ns.FD()}
	q := inspect.Query{States: inspect.AllStates, Info: true, Memory: true}
	clientAddr, serverAddr := ends(client)
	var socks []inspect.Socket
	var c *inspect.Socket
	for range 100 {
		var err error
		if socks, err = src.Sockets(context.Background(), q); err != nil {
			t.Fatal(err)
		}
		if c = byTuple(socks, clientAddr, serverAddr); c != nil && c.Info != nil && c.Info.BytesAcked == n+1 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if c == nil || c.Info == nil {
		t.Fatalf("client %v: no socket or no tcp_info in %v", clientAddr, linesOf(socks))
	}
	if c.Info.BytesAcked != n+1 || c.Info.BytesSent != n || c.Info.State != inspect.Established {
		t.Errorf("client tcp_info: bytes_acked %d, bytes_sent %d, state %v; want %d, %d, ESTABLISHED",
			c.Info.BytesAcked, c.Info.BytesSent, c.Info.State, n+1, n)
	}
	if s := byTuple(socks, serverAddr, clientAddr); s == nil || s.Info == nil || s.Info.BytesReceived != n {
		t.Errorf("server end: %+v, want bytes_received %d", s, n)
	}
	if got, want := c.Info.Congestion, strings.TrimSpace(string(cong)); got != want {
		t.Errorf("congestion control %q, want the namespace's %q", got, want)
	}
	if c.Info.Options&inspect.OptWScale == 0 || c.Info.SndMSS == 0 || c.Info.SndCwnd == 0 || c.Info.RTT == 0 {
		t.Errorf("client tcp_info lacks what every loopback connection has: %+v", c.Info)
	}

	// Which sockets carry what: the minisockets nothing (TIME_WAIT, and
	// the FIN_WAIT2 whose owner closed it, which the kernel keeps as a
	// timewait socket), UDP sockets memory but no tcp_info, every other
	// TCP socket both.
	if len(socks) != len(want)+3 {
		t.Fatalf("%d sockets, want %d: %v", len(socks), len(want)+3, linesOf(socks))
	}
	for _, s := range socks {
		minisock := s.State == inspect.TimeWait || s.State == inspect.FinWait2 && s.Inode == 0
		wantInfo := s.Protocol == inspect.TCP && !minisock
		wantMem := !minisock
		if (s.Info != nil) != wantInfo || (s.Memory != nil) != wantMem {
			t.Errorf("%s: info %v memory %v, want info %v memory %v", lineOf(s), s.Info != nil, s.Memory != nil, wantInfo, wantMem)
		}
		if s.Memory != nil && (s.Memory.RcvBuf == 0 || s.Memory.SndBuf == 0 || s.Memory.Vars < 9) {
			t.Errorf("%s: memory %+v, want buffer sizes and 9 values", lineOf(s), *s.Memory)
		}
		if s.Info != nil && s.Info.State != s.State {
			t.Errorf("%s: tcp_info state %v", lineOf(s), s.Info.State)
		}
	}

	// Without asking, nothing: the kernel is not asked for the extensions.
	plain, err := src.Sockets(context.Background(), inspect.Query{States: inspect.AllStates})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range plain {
		if s.Info != nil || s.Memory != nil {
			t.Errorf("%s: extensions filled without being asked for", lineOf(s))
		}
	}
}

// TestNetlinkOrderMatchesSS requires the netlink source to list sockets in
// ss's order: UDP before TCP, IPv4 before IPv6, the kernel's order within
// each, although it lists TCP's two families in one dump.
func TestNetlinkOrderMatchesSS(t *testing.T) {
	ns := testnet.New(t)
	want := testnet.Strings(append(ns.Textbook(t, "::1"), ns.Textbook(t, "127.0.0.1")...))
	q := inspect.Query{States: inspect.AllStates}
	src := &sockdiag.Source{NetNS: ns.FD()}
	if got := settle(t, src, q, want); !slices.Equal(got, want) {
		t.Fatalf("sockets did not settle: %v", got)
	}
	socks, err := src.Sockets(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range socks {
		got = append(got, lineOf(s))
	}
	var ssOrder []string
	for line := range strings.Lines(ns.Run(t, "ss", "-tuanH")) {
		// Each line alone, so that ParseTable keeps ss's order.
		ssOrder = append(ssOrder, testnet.ParseTable(t, line, testnet.SSStates, testnet.Columns{})...)
	}
	if diff := cmp.Diff(ssOrder, got); diff != "" {
		t.Errorf("order (-ss +netlink):\n%s", diff)
	}
}

// TestEachMatchesSockets lists the same sockets with Each and with Sockets,
// tcp_info and memory included, and requires the same sockets in the same
// order, with the same extensions, copied out of each batch before it is
// reused.
func TestEachMatchesSockets(t *testing.T) {
	ns := testnet.New(t)
	want := testnet.Strings(append(ns.Textbook(t, "::1"), ns.Textbook(t, "127.0.0.1")...))
	src := &sockdiag.Source{NetNS: ns.FD()}
	q := inspect.Query{States: inspect.AllStates, Info: true, Memory: true}
	if got := settle(t, src, inspect.Query{States: inspect.AllStates}, want); !slices.Equal(got, want) {
		t.Fatalf("sockets did not settle: %v", got)
	}
	type entry struct {
		Line   string
		Info   inspect.TCPInfo
		Memory inspect.Memory
	}
	flatten := func(socks []inspect.Socket) []entry {
		var out []entry
		for _, s := range socks {
			e := entry{Line: lineOf(s)}
			if s.Info != nil {
				e.Info = *s.Info
				e.Info.BBR = nil
				// What moves between two listings of the same sockets.
				e.Info.LastDataSent, e.Info.LastDataRecv, e.Info.LastAckRecv = 0, 0, 0
			}
			if s.Memory != nil {
				e.Memory = *s.Memory
			}
			out = append(out, e)
		}
		return out
	}
	socks, err := src.Sockets(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	var streamed []entry
	batches := 0
	err = src.Each(context.Background(), q, func(batch []inspect.Socket) error {
		batches++
		if len(batch) == 0 || len(batch) > sockdiag.BatchSize {
			t.Errorf("batch of %d", len(batch))
		}
		streamed = append(streamed, flatten(batch)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(flatten(socks), streamed); diff != "" {
		t.Errorf("Each (+) and Sockets (-) differ:\n%s", diff)
	}
	if batches != 1 {
		t.Errorf("%d batches for %d sockets", batches, len(socks))
	}
	errStop := errors.New("stop")
	if err := src.Each(context.Background(), q, func([]inspect.Socket) error { return errStop }); err != errStop {
		t.Errorf("Each returned %v, want the callback's error as it is", err)
	}
}

// TestEachManyBatches lists more sockets than a batch holds, of both
// families, so that batches, and the records they point to, are reused,
// and the IPv6 sockets of the one dump of both families are held back:
// Each must hand over what Sockets returns, in the same order.
func TestEachManyBatches(t *testing.T) {
	ns := testnet.New(t)
	open := func(addr string, pairs int) {
		var conns []io.Closer
		t.Cleanup(func() {
			for _, c := range conns {
				c.Close()
			}
		})
		ns.Do(t, func() error {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			conns = append(conns, ln)
			for range pairs {
				c, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					return err
				}
				s, err := ln.Accept()
				if err != nil {
					c.Close()
					return err
				}
				conns = append(conns, c, s)
			}
			return nil
		})
	}
	open("[::1]:0", 700)
	open("127.0.0.1:0", sockdiag.BatchSize/2+20)
	type entry struct {
		Line                    string
		MSS, Cwnd, AdvMSS, Opts uint32
		InfoState               inspect.State
	}
	flatten := func(socks []inspect.Socket) []entry {
		var out []entry
		for _, s := range socks {
			e := entry{Line: lineOf(s)}
			if s.Info != nil {
				e.MSS, e.Cwnd, e.AdvMSS, e.Opts, e.InfoState = s.Info.SndMSS, s.Info.SndCwnd, s.Info.AdvMSS, uint32(s.Info.Options), s.Info.State
			}
			out = append(out, e)
		}
		return out
	}
	src := &sockdiag.Source{NetNS: ns.FD()}
	q := inspect.Query{Protocols: []inspect.Protocol{inspect.TCP}, States: inspect.AllStates, Info: true}
	socks, err := src.Sockets(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if n := 2 + 2*700 + 2*(sockdiag.BatchSize/2+20); len(socks) != n {
		t.Fatalf("%d sockets, want %d", len(socks), n)
	}
	var streamed []entry
	batches := 0
	err = src.Each(context.Background(), q, func(batch []inspect.Socket) error {
		batches++
		streamed = append(streamed, flatten(batch)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(flatten(socks), streamed); diff != "" {
		t.Errorf("Each (+) and Sockets (-) differ:\n%s", diff)
	}
	if batches != 2 {
		t.Errorf("%d batches, want 2", batches)
	}
	for i, s := range socks {
		if s.Family == inspect.INet6 && i < len(socks)-1401 {
			t.Fatalf("IPv6 socket %d of %d comes before IPv4 ones", i, len(socks))
		}
	}
}
