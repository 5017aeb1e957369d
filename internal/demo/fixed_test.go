package demo_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/sockdiag"
	"github.com/sockstate/sockstate/internal/demo"
	"github.com/sockstate/sockstate/internal/testnet"
)

// TestPortTakenFixed: an address the user gave (Fixed) that is taken is
// an error, not a move to a free port.
func TestPortTakenFixed(t *testing.T) {
	ns := testnet.New(t)
	ns.Listen(t, "tcp4", "127.0.0.1:7788")
	q := inspect.Query{Protocols: []inspect.Protocol{inspect.TCP}, Families: []inspect.Family{inspect.INet}, States: inspect.AllStates &^ inspect.StatesOf(inspect.Close)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var notes []string
	_, err := demo.Run(ctx, demo.Config{
		Addr:   netip.MustParseAddrPort("127.0.0.1:7788"),
		Fixed:  true,
		Closer: demo.ServerCloses,
		Step:   time.Millisecond,
		Events: &inspect.Watcher{Source: &sockdiag.Source{NetNS: ns.FD()}, Query: q, Interval: time.Millisecond},
		NetNS:  ns.FD(),
		Source: "sock_diag",
		Out: func(e *demo.Entry) error {
			if e.Kind == demo.EntryNote {
				notes = append(notes, e.Text)
			}
			return nil
		},
	})
	if !errors.Is(err, unix.EADDRINUSE) {
		t.Fatalf("Run: %v, want EADDRINUSE", err)
	}
	if want := "demo: server: bind(127.0.0.1:7788): address already in use"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	for _, n := range notes {
		if strings.Contains(n, "is taken") {
			t.Errorf("a note of a move: %q", n)
		}
	}
}
