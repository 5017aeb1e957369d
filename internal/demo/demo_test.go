package demo_test

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/sockdiag"
	"github.com/sockstate/sockstate/internal/demo"
	"github.com/sockstate/sockstate/internal/testnet"
)

// runIn runs the demo inside ns with sock_diag and destroy reports, and
// returns its timeline. The demo polls every millisecond for states that
// last a step (100 ms); a loaded machine can stall a poll past one, so a
// run that missed a state is run once more, and the log says so.
func runIn(t *testing.T, ns *testnet.NS, addr netip.AddrPort, closer demo.Closer) (*demo.Result, []demo.Entry) {
	t.Helper()
	res, entries := runOnce(t, ns, addr, closer)
	if len(res.Missed) > 0 {
		t.Logf("a poll missed %q (%s); running the demo once more", res.Missed, res.Summary)
		res, entries = runOnce(t, ns, addr, closer)
	}
	return res, entries
}

func runOnce(t *testing.T, ns *testnet.NS, addr netip.AddrPort, closer demo.Closer) (*demo.Result, []demo.Entry) {
	t.Helper()
	family := inspect.INet6
	if addr.Addr().Is4() {
		family = inspect.INet
	}
	q := inspect.Query{Protocols: []inspect.Protocol{inspect.TCP}, Families: []inspect.Family{family}, States: inspect.AllStates &^ inspect.StatesOf(inspect.Close)}
	d, err := sockdiag.SubscribeDestroyed(ns.FD(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var entries []demo.Entry
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := demo.Run(ctx, demo.Config{
		Addr:   addr,
		Closer: closer,
		Step:   100 * time.Millisecond,
		Events: &inspect.Watcher{Source: &sockdiag.Source{NetNS: ns.FD()}, Query: q, Interval: time.Millisecond, Destroyed: d},
		NetNS:  ns.FD(),
		Source: "sock_diag",
		Out:    func(e *demo.Entry) error { entries = append(entries, *e); return nil },
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res, entries
}

// states returns the states of role's entries in order, observed or not.
func states(entries []demo.Entry, role demo.Role) []string {
	var out []string
	for _, e := range entries {
		if e.Kind == demo.EntryState && e.Socket == role {
			out = append(out, demo.Names(nil).State(e.State))
		}
	}
	return out
}

// TestPortTaken occupies 127.0.0.1:7788 in the namespace first: the server
// binds a free port, says so, and the demo still succeeds.
func TestPortTaken(t *testing.T) {
	ns := testnet.New(t)
	var squatter net.Listener
	ns.Do(t, func() error {
		var err error
		squatter, err = net.Listen("tcp4", "127.0.0.1:7788")
		return err
	})
	defer squatter.Close()

	res, entries := runIn(t, ns, demo.DefaultAddr, demo.ServerCloses)
	if len(res.Missed) > 0 {
		t.Errorf("missed %q", res.Missed)
	}
	i := slices.IndexFunc(entries, func(e demo.Entry) bool {
		return e.Kind == demo.EntryNote && strings.HasPrefix(e.Text, "127.0.0.1:7788 is taken (address already in use); the server bound 127.0.0.1:")
	})
	if i < 0 {
		t.Fatalf("no note that 7788 is taken in %+v", entries)
	}
	f := strings.Fields(entries[i].Text)
	bound, err := netip.ParseAddrPort(f[len(f)-2])
	if err != nil || bound.Port() == 7788 || bound.Port() == 0 {
		t.Errorf("note %q: bound %v, %v; want another port", entries[i].Text, bound, err)
	}
	if diff := cmp.Diff([]string{"LISTEN", "gone"}, states(entries, demo.Listener)); diff != "" {
		t.Errorf("listener (-want +got):\n%s", diff)
	}
}

// TestIPv6 runs the demo on [::1]:7788.
func TestIPv6(t *testing.T) {
	ns := testnet.New(t)
	res, entries := runIn(t, ns, netip.MustParseAddrPort("[::1]:7788"), demo.ClientCloses)
	if len(res.Missed) > 0 {
		t.Errorf("missed %q", res.Missed)
	}
	want := map[demo.Role][]string{
		demo.Listener:   {"LISTEN", "gone"},
		demo.ServerConn: {"SYN_RECV", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "gone"},
		demo.Client:     {"SYN_SENT", "ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT"},
	}
	for role, w := range want {
		if diff := cmp.Diff(w, states(entries, role)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", role, diff)
		}
	}
}
