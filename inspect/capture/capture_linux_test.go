//go:build linux

package capture_test

import (
	"io"
	"net"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

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
			// A packet in flight when Stop drains is not lost: the last
			// ACK is sent before srv.Close returns.
			packets, stats, err := c.Stop()
			if err != nil {
				t.Fatal(err)
			}
			if stats != (capture.Stats{}) {
				t.Errorf("stats %+v, want nothing lost", stats)
			}
			server := ln.Addr().(*net.TCPAddr).AddrPort()
			type seg struct {
				From    string
				Flags   string
				Payload string
			}
			var got []seg
			for i, p := range packets {
				from := "client"
				switch {
				case p.Src == server && p.Dst == client:
					from = "server"
				case p.Src == client && p.Dst == server:
				default:
					t.Fatalf("packet %d %v -> %v, not between %v and %v", i, p.Src, p.Dst, client, server)
				}
				if p.Time.IsZero() || p.Mono <= 0 {
					t.Errorf("packet %d: time %v, mono %v", i, p.Time, p.Mono)
				}
				if i > 0 && p.Mono < packets[i-1].Mono {
					t.Errorf("packet %d at %v, before packet %d at %v", i, p.Mono, i-1, packets[i-1].Mono)
				}
				got = append(got, seg{from, p.Flags.String(), string(p.Payload)})
			}
			want := []seg{
				{"client", "SYN", ""}, {"server", "SYN,ACK", ""}, {"client", "ACK", ""},
				{"client", "PSH,ACK", "hello"}, {"server", "ACK", ""},
				{"client", "FIN,ACK", ""}, {"server", "ACK", ""},
				{"server", "FIN,ACK", ""}, {"client", "ACK", ""},
			}
			if len(got) == 8 {
				// The server's ACK of the FIN rode on its own FIN.
				want = append(want[:6], want[7:]...)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("packets (-want +got):\n%s", diff)
			}
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
