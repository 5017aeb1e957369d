package socktest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/sockdiag"
	"github.com/sockstate/sockstate/inspect/ssfilter"
)

// WaitForState waits until a TCP socket that filter matches is in state
// want, and returns it; the first such socket in the order of local, then
// peer, address when several are. The filter is an ss(8) expression, as
// ssfilter.Parse reads it: "sport = :8080",
// "dport = :8080 and src 127.0.0.1". It looks at every TCP socket in the
// namespace, whoever holds it, TIME_WAIT included, and polls, so a state a
// socket passes through between two polls can be missed.
//
// WaitForState fails t with t.Fatalf, since the caller has no socket to go
// on with, and so must be called from the test's goroutine: when the
// filter does not parse, when want is not one of ESTABLISHED to CLOSING,
// and when timeout passes first, with what it saw instead:
//
//	socktest: no socket matching "sport = :8080" reached CLOSE_WAIT in 1s; saw: tcp ESTABLISHED 127.0.0.1:8080 -> 127.0.0.1:51234 (for 1s)
//
// It returns the zero Socket when t.Fatalf returns, as a fake testing.TB's
// may.
func WaitForState(t testing.TB, filter string, want inspect.State, timeout time.Duration) inspect.Socket {
	t.Helper()
	s, err := waitForState(sockdiag.NewAutoSource(nil), filter, want, timeout)
	if err != nil {
		t.Fatalf("%v", err)
		return inspect.Socket{}
	}
	return s
}

func waitForState(src inspect.Source, filter string, want inspect.State, timeout time.Duration) (inspect.Socket, error) {
	f, err := ssfilter.Parse([]string{filter})
	if err != nil {
		return inspect.Socket{}, fmt.Errorf("socktest: WaitForState %q: %w", filter, err)
	}
	if want < inspect.Established || want > inspect.Closing {
		return inspect.Socket{}, fmt.Errorf("socktest: WaitForState %q: state %v is not one of %v to %v", filter, want, inspect.Established, inspect.Closing)
	}
	q := inspect.Query{Protocols: []inspect.Protocol{inspect.TCP}, States: inspect.AllStates, Filter: f}
	var (
		seen = make(sightings)
		last []sighted
		got  inspect.Socket
	)
	reached := poll(timeout, func(now time.Time) bool {
		var socks []inspect.Socket
		socks, err = src.Sockets(context.Background(), q)
		if err != nil {
			return true
		}
		last = seen.update(socks, now)
		for _, s := range last {
			if s.State == want {
				got = s.Socket
				return true
			}
		}
		return false
	})
	switch {
	case err != nil:
		return inspect.Socket{}, fmt.Errorf("socktest: WaitForState %q: %w", filter, err)
	case reached:
		return got, nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "socktest: no socket matching %q reached %v in %v; ", filter, want, timeout)
	if len(last) == 0 {
		b.WriteString("saw no matching socket")
	}
	for i, s := range last {
		if i == 0 {
			b.WriteString("saw: ")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(s.String())
	}
	return inspect.Socket{}, errors.New(b.String())
}
