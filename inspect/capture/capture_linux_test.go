//go:build linux

package capture_test

import (
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/sockstate/sockstate/inspect/capture"
	"github.com/sockstate/sockstate/internal/testnet"
)

// TestCaptureLoopback captures a whole connection on loopback in a
// namespace of its own and requires each segment once, in order, with its
// flags, ends, payload and a timestamp on both clocks.
func TestCaptureLoopback(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "::1"} {
		t.Run(host, func(t *testing.T) {
			ns := testnet.New(t)
			ln := ns.Listen(t, "tcp", net.JoinHostPort(host, "0"))
			port := uint16(ln.Addr().(*net.TCPAddr).Port)
			var c *capture.Capture
			ns.Do(t, func() error {
				var err error
				c, err = capture.Open("lo", port)
				return err
			})
			var client netip.AddrPort
			ns.Do(t, func() error {
				conn, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					return err
				}
				client = conn.LocalAddr().(*net.TCPAddr).AddrPort()
				srv, err := ln.Accept()
				if err != nil {
					return err
				}
				if _, err := conn.Write([]byte("hello")); err != nil {
					return err
				}
				buf := make([]byte, 5)
				if _, err := io.ReadFull(srv, buf); err != nil {
					return err
				}
				// The client closes first; the server reads the end of
				// the stream before it closes, so the close takes four
				// segments or three.
				conn.Close()
				if _, err := srv.Read(buf); err != io.EOF {
					t.Errorf("server read %v, want EOF", err)
				}
				return srv.Close()
			})
			awaitLastACK(t, ns)
			packets := stopped(t, c)
			server := ln.Addr().(*net.TCPAddr).AddrPort()
			for i, p := range packets {
				if !(p.Src == server && p.Dst == client || p.Src == client && p.Dst == server) {
					t.Fatalf("packet %d %v -> %v, not between %v and %v", i, p.Src, p.Dst, client, server)
				}
				if p.Time.IsZero() || p.Mono <= 0 {
					t.Errorf("packet %d: time %v, mono %v", i, p.Time, p.Mono)
				}
				if i > 0 && p.Mono < packets[i-1].Mono {
					t.Errorf("packet %d at %v, before packet %d at %v", i, p.Mono, i-1, packets[i-1].Mono)
				}
			}
			wantConnection(t, []string{"client SYN", "server SYN,ACK", "client ACK", "client PSH,ACK hello", "server ACK",
				"client FIN,ACK", "server ACK", "server FIN,ACK", "client ACK"}, segments(packets, server))
		})
	}
}

// TestOpenNoInterface names the interface it cannot find.
func TestOpenNoInterface(t *testing.T) {
	_, err := capture.Open("nosuchif0", 7788)
	if err == nil || err.Error() != `capture: interface "nosuchif0": no such device` {
		t.Errorf("error %v", err)
	}
}

// TestCaptureVeth captures on one end of a veth pair joining two
// namespaces, where the kernel shows each frame once, as it leaves
// (PACKET_OUTGOING) or as it arrives: every segment of both directions is
// kept, once.
func TestCaptureVeth(t *testing.T) {
	srv, cli := testnet.New(t), testnet.New(t)
	srv.Run(t, "ip", "link", "add", "veth-s", "type", "veth", "peer", "name", "veth-c", "netns", cli.Name)
	srv.Run(t, "ip", "addr", "add", "192.0.2.1/24", "dev", "veth-s")
	srv.Run(t, "ip", "link", "set", "veth-s", "up")
	cli.Run(t, "ip", "addr", "add", "192.0.2.2/24", "dev", "veth-c")
	cli.Run(t, "ip", "link", "set", "veth-c", "up")
	ln := srv.Listen(t, "tcp", "192.0.2.1:0")
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	var c *capture.Capture
	srv.Do(t, func() error {
		var err error
		c, err = capture.Open("veth-s", port)
		return err
	})
	var conn net.Conn
	cli.Do(t, func() error {
		var err error
		conn, err = net.Dial("tcp", ln.Addr().String())
		return err
	})
	srvConn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srvConn.Write([]byte("thank you !")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 11)
	if _, err := io.ReadFull(conn, buf); err != nil {
		t.Fatal(err)
	}
	// The reply's ACK is in flight until the peer's FIN: the server
	// closes after reading the client's end of the stream.
	conn.Close()
	if _, err := srvConn.Read(buf); err != io.EOF {
		t.Errorf("server read %v, want EOF", err)
	}
	srvConn.Close()
	awaitLastACK(t, srv)
	wantConnection(t, []string{"client SYN", "server SYN,ACK", "client ACK", "server PSH,ACK thank you !", "client ACK",
		"client FIN,ACK", "server ACK", "server FIN,ACK", "client ACK"}, segments(stopped(t, c), ln.Addr().(*net.TCPAddr).AddrPort()))
}

// awaitLastACK waits until no socket of ns is in LAST_ACK: the last ACK
// reached the interface, where the capture takes it before TCP does.
// Bounded to 200 looks.
func awaitLastACK(t *testing.T, ns *testnet.NS) {
	t.Helper()
	for range 200 {
		if ns.Run(t, "ss", "-Htn", "state", "last-ack") == "" {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("a socket stayed in LAST_ACK for 200 looks")
}
