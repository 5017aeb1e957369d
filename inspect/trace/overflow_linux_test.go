//go:build linux

package trace

import (
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/internal/testnet"
	"github.com/sockstate/sockstate/netlinkdiag"
)

// TestTimeWaitWithoutLookups: connections closed either way report their
// time-wait sockets in TIME_WAIT with no sock_diag lookup, each once;
// where the kernel makes none (tcp_max_tw_buckets=0, TCPTimeWaitOverflow
// counts them), none is reported, and lookups say so.
func TestTimeWaitWithoutLookups(t *testing.T) {
	const conns = 4 // per closing order
	for _, made := range []bool{true, false} {
		t.Run(fmt.Sprintf("made %v", made), func(t *testing.T) {
			ns := testnet.New(t)
			if !made {
				ns.Run(t, "sysctl", "-qw", "net.ipv4.tcp_max_tw_buckets=0")
			}
			tr := open(t, ns, Options{})
			if tr.overflowFile == nil {
				t.Fatal("the namespace's TCPTimeWaitOverflow could not be read")
			}
			r := startReader(t, tr)
			// Past the margin of Open's reading, so that it vouches for
			// every time-wait socket made.
			time.Sleep(2 * confirmMargin)
			for _, first := range []closer{serverFirst, clientFirst} {
				for range conns {
					ns.Do(t, func() error {
						_, err := converse("127.0.0.1", 0, first)
						return err
					})
				}
			}
			// Each connection ends with the second closer's LAST_ACK ->
			// CLOSE and the first's move to CLOSE; then the TIME_WAITs
			// have loopbackWait and confirmEvery to come, five times over.
			var closes, lastAcks []Transition
			var timeWaits []Transition
			deadline := time.After(5 * time.Second)
			var settle <-chan time.Time
			for settled := false; !settled; {
				select {
				case x := <-r.items:
					switch {
					case x.err != nil:
						t.Fatalf("Read: %v", x.err)
					case x.tr.TimeWait:
						timeWaits = append(timeWaits, x.tr)
					case x.tr.To == inspect.Close && (x.tr.From == inspect.FinWait2 || x.tr.From == inspect.Closing):
						closes = append(closes, x.tr)
					case x.tr.From == inspect.LastAck && x.tr.To == inspect.Close:
						lastAcks = append(lastAcks, x.tr)
					}
				case <-deadline:
					t.Fatalf("%d moves to CLOSE leaving a time-wait socket and %d from LAST_ACK within 5s, want %d each", len(closes), len(lastAcks), 2*conns)
				case <-settle:
					settled = true
				}
				if settle == nil && len(closes) == 2*conns && len(lastAcks) == 2*conns {
					settle = time.After(5 * loopbackWait)
				}
			}
			diag, err := netlinkdiag.Dial(&netlinkdiag.Config{NetNS: ns.FD()})
			if err != nil {
				t.Fatal(err)
			}
			defer diag.Close()
			var want []uint64
			for i := range closes {
				m, err := lookupSocket(diag, &closes[i])
				switch {
				case err == nil && m.State == uint8(inspect.TimeWait):
					want = append(want, closes[i].Cookie)
				case !errors.Is(err, unix.ENOENT):
					t.Errorf("%s %s: lookup %v, state %d", closes[i].Local, closes[i].Peer, err, m.State)
				}
			}
			var got []uint64
			for i := range timeWaits {
				got = append(got, timeWaits[i].Cookie)
			}
			if made && len(want) != 2*conns || !made && len(want) != 0 {
				t.Fatalf("%d time-wait sockets in TIME_WAIT for %d closes, want made=%v", len(want), len(closes), made)
			}
			if len(got) != len(want) || !sameSet(got, want) {
				t.Errorf("TIME_WAIT reported for cookies %v, want %v", got, want)
			}
			tr.Close()
			<-r.done
			if made && tr.lookups != 0 {
				t.Errorf("%d lookups, want none", tr.lookups)
			}
			if !made && tr.lookups == 0 {
				t.Error("no lookup although the overflow counter moved")
			}
		})
	}
}

// sameSet reports whether a and b hold the same values, each once.
func sameSet(a, b []uint64) bool {
	in := map[uint64]int{}
	for _, x := range a {
		in[x]++
	}
	for _, x := range b {
		if in[x] != 1 {
			return false
		}
		in[x]--
	}
	return true
}

// TestTimeWaitAfterPeerFIN: the server closes first and the client, having
// read the EOF, keeps its end open: the client's delayed ACK reaches the
// server's orphaned end in FIN_WAIT2, which tcp_time_wait replaces with a
// time-wait socket in FIN_WAIT2 at once. No TIME_WAIT is reported while
// the client holds its end (close(2) set the server's RCV_SHUTDOWN, which
// must not pass for the client's FIN); once the client closes, TIME_WAIT
// comes right after the client's LAST_ACK -> CLOSE, for the server's
// cookie.
func TestTimeWaitAfterPeerFIN(t *testing.T) {
	ns := testnet.New(t)
	r := startReader(t, open(t, ns, Options{}))
	ln := ns.Listen(t, "tcp4", "127.0.0.1:0")
	var c net.Conn
	ns.Do(t, func() (err error) {
		c, err = net.Dial("tcp4", ln.Addr().String())
		return err
	})
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	server := s.LocalAddr().(*net.TCPAddr).AddrPort()
	s.Close()
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("client read after the server's close: %v, want EOF", err)
	}
	next := func(what string, until func(*Transition) bool) Transition {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for {
			select {
			case x := <-r.items:
				if x.err != nil {
					t.Fatalf("Read: %v", x.err)
				}
				if x.tr.TimeWait && !until(&x.tr) {
					t.Fatalf("waiting for %s: %s", what, line(&x.tr))
				}
				if until(&x.tr) {
					return x.tr
				}
			case <-deadline:
				t.Fatalf("no %s within 5s", what)
			}
		}
	}
	closed := next("the server's FIN_WAIT2 -> CLOSE", func(tr *Transition) bool {
		return tr.Local == server && tr.From == inspect.FinWait2 && tr.To == inspect.Close
	})
	select {
	case x := <-r.items:
		t.Fatalf("while the client holds its end: %s %v", line(&x.tr), x.err)
	case <-time.After(5 * loopbackWait):
	}
	c.Close()
	next("the client's LAST_ACK -> CLOSE", func(tr *Transition) bool {
		return tr.Peer == server && tr.From == inspect.LastAck && tr.To == inspect.Close
	})
	tw := next("TIME_WAIT", func(tr *Transition) bool { return tr.TimeWait })
	if tw.Cookie != closed.Cookie || tw.Local != server {
		t.Errorf("TIME_WAIT %s cookie %d, want the server's end, cookie %d", line(&tw), tw.Cookie, closed.Cookie)
	}
}
