//go:build linux

package netlinkdiag_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/internal/testnet"
	"github.com/sockstate/sockstate/netlinkdiag"
)

// nsPair is a connection on loopback inside a test namespace.
type nsPair struct {
	client, server *net.TCPConn
}

func newNSPair(t *testing.T, ns *testnet.NS, ln net.Listener) nsPair {
	t.Helper()
	var p nsPair
	ns.Do(t, func() error {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return err
		}
		s, err := ln.Accept()
		if err != nil {
			c.Close()
			return err
		}
		p.client, p.server = c.(*net.TCPConn), s.(*net.TCPConn)
		return nil
	})
	t.Cleanup(func() {
		p.client.Close()
		p.server.Close()
	})
	return p
}

func nsListen(t *testing.T, ns *testnet.NS, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	ns.Do(t, func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	})
	t.Cleanup(func() { ln.Close() })
	return ln
}

// dumpOne dumps the namespace's TCP sockets of family af with the
// extensions ext and returns a copy of the one whose local end is local.
func dumpOne(t *testing.T, c *netlinkdiag.Conn, af uint8, ext uint8, local netip.AddrPort) netlinkdiag.Msg {
	t.Helper()
	msgs := dumpAll(t, c, netlinkdiag.Request{Family: af, Protocol: unix.IPPROTO_TCP, States: ^uint32(0), Ext: ext})
	for _, m := range msgs {
		if m.Src == local {
			return m
		}
	}
	t.Fatalf("no socket with local end %v in the dump", local)
	return netlinkdiag.Msg{}
}

func sockoptTCPInfo(t *testing.T, c syscall.Conn) *unix.TCPInfo {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var info *unix.TCPInfo
	var serr error
	if err := rc.Control(func(fd uintptr) {
		info, serr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); err != nil {
		t.Fatal(err)
	}
	if serr != nil {
		t.Fatal(serr)
	}
	return info
}

// TestTCPInfoMatchesGetsockopt sends data over a connection, lets it settle,
// and requires the tcp_info that sock_diag reports to agree with what
// getsockopt(TCP_INFO) reports for the same socket, field by field where the
// values stay put once the connection is idle.
func TestTCPInfoMatchesGetsockopt(t *testing.T) {
	ns := testnet.New(t)
	ln := nsListen(t, ns, "127.0.0.1:0")
	p := newNSPair(t, ns, ln)
	const n = 100000
	go func() {
		_, _ = p.client.Write(make([]byte, n))
	}()
	if _, err := io.ReadFull(p.server, make([]byte, n)); err != nil {
		t.Fatal(err)
	}
	c, err := netlinkdiag.Dial(&netlinkdiag.Config{NetNS: ns.FD()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	local := p.client.LocalAddr().(*net.TCPAddr).AddrPort()

	var info netlinkdiag.TCPInfo
	var want *unix.TCPInfo
	// The last ACK may still be on its way: wait until everything is
	// acknowledged.
	for range 100 {
		m := dumpOne(t, c, unix.AF_INET, netlinkdiag.ExtInfo, local)
		ad := netlinkdiag.NewAttrDecoder(m.Attrs)
		for ad.Next() {
			if ad.Type() == netlinkdiag.AttrInfo {
				if err := netlinkdiag.DecodeTCPInfo(ad.Bytes(), &info); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := ad.Err(); err != nil {
			t.Fatal(err)
		}
		want = sockoptTCPInfo(t, p.client)
		if info.Unacked == 0 && info.BytesAcked == n+1 && want.Bytes_acked == n+1 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if info.Size != 280 {
		t.Errorf("tcp_info of %d bytes, want 280 from Linux 6.18", info.Size)
	}
	type fields struct {
		State, Options                                 uint8
		SndMSS, RcvMSS, AdvMSS, PMTU, SndCwnd          uint32
		BytesAcked, BytesSent, BytesReceived           uint64
		SegsOut, DataSegsOut, TotalRetrans, Reordering uint32
	}
	gotF := fields{info.State, info.Options, info.SndMSS, info.RcvMSS, info.AdvMSS, info.PMTU, info.SndCwnd,
		info.BytesAcked, info.BytesSent, info.BytesReceived, info.SegsOut, info.DataSegsOut, info.TotalRetrans, info.Reordering}
	wantF := fields{want.State, want.Options, want.Snd_mss, want.Rcv_mss, want.Advmss, want.Pmtu, want.Snd_cwnd,
		want.Bytes_acked, want.Bytes_sent, want.Bytes_received, want.Segs_out, want.Data_segs_out, want.Total_retrans, want.Reordering}
	if gotF != wantF {
		t.Errorf("sock_diag tcp_info %+v, getsockopt %+v", gotF, wantF)
	}
	if info.State != 1 || info.BytesAcked != n+1 || info.BytesSent != n {
		t.Errorf("state %d, bytes_acked %d, bytes_sent %d; want 1, %d, %d", info.State, info.BytesAcked, info.BytesSent, n+1, n)
	}
	if info.Options&netlinkdiag.TCPIOptWScale == 0 || info.SndWScale == 0 || info.RcvWScale == 0 {
		t.Errorf("options %#x, wscale %d,%d: want window scaling on loopback", info.Options, info.SndWScale, info.RcvWScale)
	}
}

// TestDestroy closes one of two connections by its exact id and requires
// the peer to see a reset, the other connection to keep working, and the
// kernel to refuse a second close and one with a stale cookie.
func TestDestroy(t *testing.T) {
	ns := testnet.New(t)
	ln := nsListen(t, ns, "127.0.0.1:0")
	victim := newNSPair(t, ns, ln)
	bystander := newNSPair(t, ns, ln)
	c, err := netlinkdiag.Dial(&netlinkdiag.Config{NetNS: ns.FD()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	req := netlinkdiag.Request{Family: unix.AF_INET, Protocol: unix.IPPROTO_TCP}
	m := dumpOne(t, c, unix.AF_INET, 0, victim.client.LocalAddr().(*net.TCPAddr).AddrPort())
	id := netlinkdiag.SockID{Src: m.Src, Dst: m.Dst, IfIndex: m.IfIndex, Cookie: m.Cookie}

	stale := id
	stale.Cookie++
	if err := c.Destroy(ctx, req, stale); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("Destroy with a stale cookie: %v, want ENOENT", err)
	}
	if err := c.Destroy(ctx, req, id); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	if err := c.Destroy(ctx, req, id); !errors.Is(err, unix.ENOENT) {
		t.Errorf("second Destroy: %v, want ENOENT", err)
	}

	if err := victim.server.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := victim.server.Read(make([]byte, 1)); !errors.Is(err, unix.ECONNRESET) {
		t.Errorf("the closed connection's peer read %v, want ECONNRESET", err)
	}
	if _, err := victim.client.Write([]byte("x")); !errors.Is(err, unix.ECONNABORTED) && !errors.Is(err, unix.EPIPE) {
		t.Errorf("the closed socket's owner wrote: %v, want ECONNABORTED or EPIPE", err)
	}

	if _, err := bystander.client.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if err := bystander.server.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(bystander.server, buf); err != nil || string(buf) != "ping" {
		t.Errorf("the other connection read %q, %v; want ping", buf, err)
	}
}

// TestDumpBothFamilies dumps TCP with Family 0 (one walk for both families)
// and requires the same sockets as an IPv4 dump and an IPv6 dump together,
// with and without a filter.
func TestDumpBothFamilies(t *testing.T) {
	ns := testnet.New(t)
	ln4 := nsListen(t, ns, "127.0.0.1:0")
	ln6 := nsListen(t, ns, "[::1]:0")
	newNSPair(t, ns, ln4)
	newNSPair(t, ns, ln6)
	newNSPair(t, ns, ln6)
	c, err := netlinkdiag.Dial(&netlinkdiag.Config{NetNS: ns.FD()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	port6 := uint16(ln6.Addr().(*net.TCPAddr).Port)
	for _, bc := range [][]byte{nil, portEq(port6)} {
		var want []sock
		for _, af := range []uint8{unix.AF_INET, unix.AF_INET6} {
			for _, m := range dumpAll(t, c, netlinkdiag.Request{Family: af, Protocol: unix.IPPROTO_TCP, States: ^uint32(0), Bytecode: bc}) {
				want = append(want, sockOf(&m))
			}
		}
		var got []sock
		for _, m := range dumpAll(t, c, netlinkdiag.Request{Family: 0, Protocol: unix.IPPROTO_TCP, States: ^uint32(0), Bytecode: bc, Ext: netlinkdiag.ExtInfo}) {
			got = append(got, sockOf(&m))
			if ad := netlinkdiag.NewAttrDecoder(m.Attrs); !hasAttr(&ad, netlinkdiag.AttrInfo) {
				t.Errorf("%v: no tcp_info though asked for", m.Src)
			}
		}
		sortSocks(want)
		sortSocks(got)
		if len(want) != map[bool]int{true: 8, false: 3}[bc == nil] {
			t.Fatalf("per-family dumps found %d sockets: %v", len(want), want)
		}
		if diff := cmp.Diff(want, got, cmpAddrPort); diff != "" {
			t.Errorf("bytecode % x: family 0 (-per family +both):\n%s", bc, diff)
		}
	}
	if err := c.Dump(context.Background(), netlinkdiag.Request{Family: 0, Protocol: unix.IPPROTO_UDP, States: ^uint32(0)}, func(*netlinkdiag.Msg) error { return nil }); err == nil {
		t.Error("a UDP dump of family 0 was accepted")
	}
}

func hasAttr(ad *netlinkdiag.AttrDecoder, typ uint16) bool {
	for ad.Next() {
		if ad.Type() == typ {
			return true
		}
	}
	return false
}
