package socktest_test

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/socktest"
)

// seen is what the tests compare of a socket WaitForState returns.
type seen struct {
	Protocol    inspect.Protocol
	Family      inspect.Family
	State       inspect.State
	Local, Peer netip.AddrPort
}

func seenOf(s inspect.Socket) seen {
	return seen{s.Protocol, s.Family, s.State, s.Local, s.Peer}
}

func addrPortOf(a net.Addr) netip.AddrPort {
	return a.(*net.TCPAddr).AddrPort()
}

// TestWaitForStateHalfClose half-closes a connection from the server's
// side a moment after WaitForState starts: the server's end must reach
// FIN_WAIT2 and the client's CLOSE_WAIT, and WaitForState return them.
func TestWaitForStateHalfClose(t *testing.T) {
	for _, tc := range []struct {
		loopback string
		family   inspect.Family
	}{
		{"127.0.0.1", inspect.INet},
		{"::1", inspect.INet6},
	} {
		t.Run(tc.loopback, func(t *testing.T) {
			ln := listen(t, tc.loopback)
			c, s := connect(t, ln)
			done := make(chan error, 1)
			go func() {
				time.Sleep(50 * time.Millisecond)
				done <- s.CloseWrite()
			}()

			got := socktest.WaitForState(t, tuple(c), inspect.CloseWait, 5*time.Second)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			want := seen{inspect.TCP, tc.family, inspect.CloseWait, addrPortOf(c.LocalAddr()), addrPortOf(c.RemoteAddr())}
			if diff := cmp.Diff(want, seenOf(got), cmpopts.EquateComparable(netip.AddrPort{})); diff != "" {
				t.Errorf("client's end (-want +got):\n%s", diff)
			}

			got = socktest.WaitForState(t, fmt.Sprintf("sport = :%d and dport = :%d", addrPortOf(s.LocalAddr()).Port(), addrPortOf(s.RemoteAddr()).Port()), inspect.FinWait2, 5*time.Second)
			want = seen{inspect.TCP, tc.family, inspect.FinWait2, addrPortOf(s.LocalAddr()), addrPortOf(s.RemoteAddr())}
			if diff := cmp.Diff(want, seenOf(got), cmpopts.EquateComparable(netip.AddrPort{})); diff != "" {
				t.Errorf("server's end (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWaitForStateFails checks each way WaitForState fails: with one
// Fatalf naming what went wrong, and the zero Socket.
func TestWaitForStateFails(t *testing.T) {
	ln := listen(t, "127.0.0.1")
	c, s := connect(t, ln)
	port := addrPortOf(ln.Addr()).Port()

	// The sockets on the listener's port, in the order WaitForState names
	// them: by local address, then peer.
	onPort := []struct {
		local, peer netip.AddrPort
		text        string
	}{
		{addrPortOf(ln.Addr()), netip.MustParseAddrPort("0.0.0.0:0"), fmt.Sprintf("tcp LISTEN %s -> 0.0.0.0:*", ln.Addr())},
		{addrPortOf(c.LocalAddr()), addrPortOf(c.RemoteAddr()), line("ESTABLISHED", c.LocalAddr(), c.RemoteAddr())},
		{addrPortOf(s.LocalAddr()), addrPortOf(s.RemoteAddr()), line("ESTABLISHED", s.LocalAddr(), s.RemoteAddr())},
	}
	slices.SortFunc(onPort, func(a, b struct {
		local, peer netip.AddrPort
		text        string
	}) int {
		if c := a.local.Compare(b.local); c != 0 {
			return c
		}
		return a.peer.Compare(b.peer)
	})
	var sawOnPort []string
	for _, o := range onPort {
		sawOnPort = append(sawOnPort, o.text+" (for T)")
	}

	for _, tc := range []struct {
		name    string
		filter  string
		state   inspect.State
		timeout time.Duration
		want    string
	}{
		{
			name:    "saw another state",
			filter:  tuple(s),
			state:   inspect.CloseWait,
			timeout: 200 * time.Millisecond,
			want:    fmt.Sprintf("socktest: no socket matching %q reached CLOSE_WAIT in 200ms; saw: %s (for T)", tuple(s), line("ESTABLISHED", s.LocalAddr(), s.RemoteAddr())),
		},
		{
			name:    "saw several",
			filter:  fmt.Sprintf("sport = :%d or dport = :%d", port, port),
			state:   inspect.LastAck,
			timeout: 100 * time.Millisecond,
			want:    fmt.Sprintf("socktest: no socket matching \"sport = :%d or dport = :%d\" reached LAST_ACK in 100ms; saw: %s", port, port, strings.Join(sawOnPort, ", ")),
		},
		{
			// 192.0.2.0/24 is TEST-NET-1 (RFC 5737): no host has it.
			name:    "saw nothing",
			filter:  "src 192.0.2.1:9",
			state:   inspect.Established,
			timeout: 50 * time.Millisecond,
			want:    `socktest: no socket matching "src 192.0.2.1:9" reached ESTABLISHED in 50ms; saw no matching socket`,
		},
		{
			name:   "bad filter",
			filter: "sport = :nosuchservice",
			state:  inspect.Established,
			want:   `socktest: WaitForState "sport = :nosuchservice": filter: unknown port "nosuchservice": not a number, nor a service in /etc/services at column 10`,
		},
		{
			name:   "state 0",
			filter: "sport = :80",
			want:   `socktest: WaitForState "sport = :80": state unknown(0) is not one of ESTABLISHED to CLOSING`,
		},
		{
			name:   "NEW_SYN_RECV",
			filter: "sport = :80",
			state:  inspect.NewSynRecv,
			want:   `socktest: WaitForState "sport = :80": state NEW_SYN_RECV is not one of ESTABLISHED to CLOSING`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{TB: t}
			got := socktest.WaitForState(r, tc.filter, tc.state, tc.timeout)
			if got != (inspect.Socket{}) {
				t.Errorf("WaitForState returned %+v, want the zero Socket", got)
			}
			if len(r.errors) != 0 {
				t.Errorf("WaitForState called Errorf: %q", r.errors)
			}
			var msgs []string
			for _, msg := range r.fatals {
				text, times := splitTimes(t, msg)
				checkTimes(t, msg, times, tc.timeout)
				msgs = append(msgs, text)
			}
			if diff := cmp.Diff([]string{tc.want}, msgs); diff != "" {
				t.Errorf("WaitForState fatals (-want +got):\n%s", diff)
			}
		})
	}
}
