package trace

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/internal/testnet"
)

// TestSimultaneousClose holds the trace of a simultaneous close
// (testnet.StartSimClose: both ends send their FIN before either has seen
// the other's) to its transitions, exactly: the client, whose FIN is
// answered by the server's own, goes FIN_WAIT1 -> CLOSING -> CLOSE, closed,
// and into TIME_WAIT; the server's end, which gets the client's FIN with
// the ACK of its own, goes FIN_WAIT1 -> FIN_WAIT2 -> CLOSE and TIME_WAIT.
// It looks between the steps: CLOSING is traced before the server's end
// receives anything.
func TestSimultaneousClose(t *testing.T) {
	ns := testnet.New(t)
	r := startReader(t, open(t, ns, Options{}))
	sc := ns.StartSimClose(t, 7400)
	l, c := sc.Listener, sc.Client
	step := stepLine
	unspec := netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	sorted := func(socks ...[]string) []string {
		var out []string
		for _, s := range socks {
			out = append(out, strings.Join(s, "\n"))
		}
		slices.Sort(out)
		return out
	}
	want := sorted(
		[]string{step(inspect.Close, inspect.Listen, l, unspec)},
		[]string{
			step(inspect.Close, inspect.SynSent, netip.AddrPortFrom(c.Addr(), 0), l),
			step(inspect.SynSent, inspect.Established, c, l),
			step(inspect.Established, inspect.FinWait1, c, l),
			step(inspect.FinWait1, inspect.Closing, c, l),
		},
		[]string{
			step(inspect.Listen, inspect.SynRecv, l, c),
			step(inspect.SynRecv, inspect.Established, l, c),
			step(inspect.Established, inspect.FinWait1, l, c),
		},
	)
	got := r.take(t, countLines(want), 10*time.Second)
	r.quiet(t, 100*time.Millisecond)
	if diff := cmp.Diff(want, causeSequences(got)); diff != "" {
		t.Fatalf("before the crossing FINs arrive (-want +got):\n%s\ntrace:\n%s", diff, lines(got))
	}

	sc.Finish(t)
	want = sorted(
		[]string{
			step(inspect.Closing, inspect.Close, c, l, inspect.CauseClosed),
			step(inspect.Close, inspect.TimeWait, c, l) + " (time-wait socket)",
		},
		[]string{
			step(inspect.FinWait1, inspect.FinWait2, l, c),
			step(inspect.FinWait2, inspect.Close, l, c, inspect.CauseClosed),
			step(inspect.Close, inspect.TimeWait, l, c) + " (time-wait socket)",
		},
	)
	got = r.take(t, countLines(want), 10*time.Second)
	r.quiet(t, 100*time.Millisecond)
	if diff := cmp.Diff(want, causeSequences(got)); diff != "" {
		t.Fatalf("after (-want +got):\n%s\ntrace:\n%s", diff, lines(got))
	}
}
