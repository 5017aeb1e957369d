//go:build linux

package netlinkdiag_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/internal/testnet"
	"github.com/sockstate/sockstate/netlinkdiag"
)

var allDestroyGroups = []netlinkdiag.Group{
	netlinkdiag.GroupTCP4Destroy, netlinkdiag.GroupUDP4Destroy,
	netlinkdiag.GroupTCP6Destroy, netlinkdiag.GroupUDP6Destroy,
}

// destroyed is what a test knows of a destroy message in advance.
type destroyed struct {
	Protocol, Family, State uint8
	Src, Dst                netip.AddrPort
}

// receiveWanted collects destroy messages until it has one for each of
// want's ends or five seconds pass, and returns them with their cookies.
// It ignores the others: the Go runtime opens and closes probe sockets on
// its first use of the network.
func receiveWanted(t *testing.T, c *netlinkdiag.EventConn, want []destroyed) ([]destroyed, []uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	wanted := func(e *netlinkdiag.Event) bool {
		return slices.ContainsFunc(want, func(d destroyed) bool { return d.Src == e.Src && d.Dst == e.Dst })
	}
	var got []destroyed
	var cookies []uint64
	for len(got) < len(want) {
		err := c.Receive(ctx, func(e *netlinkdiag.Event) error {
			if wanted(e) {
				got = append(got, destroyed{e.Protocol, e.Family, e.State, e.Src, e.Dst})
				cookies = append(cookies, e.Cookie)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Receive after %d of %d messages %v: %v", len(got), len(want), got, err)
		}
	}
	return got, cookies
}

// TestDestroyEvents closes a TCP connection, its listener and two UDP
// sockets inside a namespace and requires one destroy message for each,
// with its protocol, family, ends and state, and a cookie that matches the
// dump's.
func TestDestroyEvents(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			skipWithoutFamily(t, f)
			ns := testnet.New(t)
			ec, err := netlinkdiag.DialEvents(&netlinkdiag.Config{NetNS: ns.FD()}, allDestroyGroups...)
			if err != nil {
				t.Fatalf("DialEvents: %v", err)
			}
			defer ec.Close()
			if got := ec.ReadBuffer(); got < netlinkdiag.EventReadBuffer {
				t.Errorf("ReadBuffer() = %d, want at least %d as root", got, netlinkdiag.EventReadBuffer)
			}

			var want []destroyed
			var dumped []uint64
			ns.Do(t, func() error {
				ln, err := net.Listen("tcp"+f.network, net.JoinHostPort(f.loopback, "0"))
				if err != nil {
					return err
				}
				client, err := net.Dial("tcp"+f.network, ln.Addr().String())
				if err != nil {
					return err
				}
				server, err := ln.Accept()
				if err != nil {
					return err
				}
				lnAddr := addrPort(t, ln.Addr())
				cl, sv := addrPort(t, client.LocalAddr()), addrPort(t, server.LocalAddr())
				dumped = cookiesOf(t, ns.FD(), f, cl, sv)
				// The server closes first: its end becomes a FIN_WAIT2
				// timewait socket, freeing the full socket; the client's
				// end goes through LAST_ACK and is freed in CLOSE.
				server.Close()
				if _, err := client.Read(make([]byte, 1)); err == nil {
					return errors.New("client read data, want EOF")
				}
				client.Close()
				ln.Close()
				want = append(want,
					destroyed{6, f.af, stateClose, sv, cl},
					destroyed{6, f.af, stateClose, cl, sv},
					destroyed{6, f.af, stateClose, lnAddr, netip.AddrPortFrom(unspecified(f), 0)},
				)

				u, err := net.ListenPacket("udp"+f.network, net.JoinHostPort(f.loopback, "0"))
				if err != nil {
					return err
				}
				uc, err := net.Dial("udp"+f.network, u.LocalAddr().String())
				if err != nil {
					return err
				}
				uc.Close()
				u.Close()
				want = append(want,
					destroyed{17, f.af, stateEstablished, addrPort(t, uc.LocalAddr()), addrPort(t, u.LocalAddr())},
					destroyed{17, f.af, stateClose, addrPort(t, u.LocalAddr()), netip.AddrPortFrom(unspecified(f), 0)},
				)
				return nil
			})
			got, cookies := receiveWanted(t, ec, want)
			key := func(d destroyed) string { return d.Src.String() + d.Dst.String() }
			byKey := map[string]uint64{}
			for i, d := range got {
				byKey[key(d)] = cookies[i]
			}
			// Both ends of the connection carry the cookie the dump gave.
			gotCookies := []uint64{byKey[key(want[0])], byKey[key(want[1])]}
			slices.Sort(gotCookies)
			slices.SortFunc(want, func(a, b destroyed) int { return cmpString(key(a), key(b)) })
			slices.SortFunc(got, func(a, b destroyed) int { return cmpString(key(a), key(b)) })
			if diff := cmp.Diff(want, got, cmpAddrPort); diff != "" {
				t.Errorf("destroy messages (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(dumped, gotCookies); diff != "" {
				t.Errorf("cookies of the dump (-) and the destroy messages (+):\n%s", diff)
			}
		})
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cookiesOf dumps the namespace's TCP sockets and returns the sorted
// cookies of the connection between a and b.
func cookiesOf(t *testing.T, netns int, f family, a, b netip.AddrPort) []uint64 {
	t.Helper()
	c, err := netlinkdiag.Dial(&netlinkdiag.Config{NetNS: netns})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var out []uint64
	err = c.Dump(context.Background(), netlinkdiag.Request{Family: f.af, Protocol: 6, States: 1 << stateEstablished}, func(m *netlinkdiag.Msg) error {
		if (m.Src == a && m.Dst == b) || (m.Src == b && m.Dst == a) {
			out = append(out, m.Cookie)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	if len(out) != 2 {
		t.Fatalf("dump found %d ends of %v <-> %v, want 2", len(out), a, b)
	}
	return out
}

// TestDestroyEventsOverflow gives the subscription a tiny receive buffer,
// frees many sockets without reading, and requires Receive to say that
// messages were lost, wrapping ErrEventsLost and ENOBUFS, with the number
// the kernel dropped, so that what was received and what was counted lost
// add up to what was sent, and then to go on with the messages sent after.
func TestDestroyEventsOverflow(t *testing.T) {
	ns := testnet.New(t)
	ec, err := netlinkdiag.DialEventsBuffer(&netlinkdiag.Config{NetNS: ns.FD()}, 4096, netlinkdiag.GroupUDP4Destroy)
	if err != nil {
		t.Fatalf("DialEvents: %v", err)
	}
	defer ec.Close()
	// A witness with the default, large buffer sees the whole burst.
	witness, err := netlinkdiag.DialEvents(&netlinkdiag.Config{NetNS: ns.FD()}, netlinkdiag.GroupUDP4Destroy)
	if err != nil {
		t.Fatalf("DialEvents: %v", err)
	}
	defer witness.Close()
	// Sockets that were never bound are freed at once on close, so the
	// kernel queues their messages while this goroutine is busy here.
	const n = 2000
	ns.Do(t, func() error {
		for range n {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			unix.Close(fd)
		}
		return nil
	})

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// The kernel broadcasts from a workqueue, possibly long after the
	// closes on a busy machine: once the witness has every message, the
	// small buffer has been offered them all too, and cannot hold them.
	for seen := 0; seen < n; {
		if err := witness.Receive(ctx, func(*netlinkdiag.Event) error { seen++; return nil }); err != nil {
			t.Fatalf("witness after %d of %d messages: %v", seen, n, err)
		}
	}
	// Every message the kernel offered is received or counted lost:
	// the first Receive to fail says ENOBUFS; the count may grow after it
	// without another, which a Receive that empties the queue reports.
	received, lost := 0, uint64(0)
	var first error
	for range n + 1 {
		err := ec.Receive(ctx, func(*netlinkdiag.Event) error { received++; return nil })
		if err != nil {
			first = err
			break
		}
	}
	if !errors.Is(first, netlinkdiag.ErrEventsLost) || !errors.Is(first, syscall.ENOBUFS) {
		t.Fatalf("Receive after %d of %d messages: %v, want ErrEventsLost and ENOBUFS", received, n, first)
	}
	countLost := func(err error) {
		t.Helper()
		le, ok := errors.AsType[*netlinkdiag.LostError](err)
		if !ok || le.N == 0 {
			t.Fatalf("Receive: %v, want a *LostError with a count", err)
		}
		lost += le.N
	}
	countLost(first)
	if received >= n {
		t.Errorf("received %d of %d messages and an overflow", received, n)
	}

	// The subscription goes on. The kernel broadcasts from a workqueue, so
	// wait for the burst to end, as a quiet 200ms, before the last socket.
	for range n + 1 {
		quiet, stop := context.WithTimeout(ctx, 200*time.Millisecond)
		err := ec.Receive(quiet, func(*netlinkdiag.Event) error { received++; return nil })
		stop()
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if err != nil {
			countLost(err)
		}
	}
	if got := uint64(received) + lost; got != n {
		t.Errorf("received %d and lost %d of %d messages: %d in all", received, lost, n, got)
	}
	var after netip.AddrPort
	ns.Do(t, func() error {
		u, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return err
		}
		after = addrPort(t, u.LocalAddr())
		return u.Close()
	})
	for range n + 1 {
		found := false
		err := ec.Receive(ctx, func(e *netlinkdiag.Event) error {
			found = found || e.Src == after
			return nil
		})
		if err != nil && !errors.Is(err, netlinkdiag.ErrEventsLost) {
			t.Fatalf("Receive after the overflow: %v", err)
		}
		if found {
			return
		}
	}
	t.Errorf("no destroy message for %v after the overflow", after)
}
