package sockdiag_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/procsrc"
	"github.com/sockstate/sockstate/inspect/sockdiag"
	"github.com/sockstate/sockstate/internal/testnet"
)

// lineOf is a socket as the tests compare it: netid, state, local, peer.
func lineOf(s inspect.Socket) string {
	state := s.State.String()
	if s.Protocol == inspect.UDP && s.State == inspect.Close {
		state = "UNCONN"
	}
	return testnet.Want{Netid: s.Protocol.String(), State: state, Local: s.Local, Peer: s.Peer}.String()
}

func linesOf(socks []inspect.Socket) []string {
	out := make([]string, 0, len(socks))
	for _, s := range socks {
		out = append(out, lineOf(s))
	}
	slices.Sort(out)
	return out
}

// settle polls src until it reports want or two seconds pass, so the test
// does not race the kernel's processing of the FINs sent on loopback.
func settle(t *testing.T, src inspect.Source, q inspect.Query, want []string) []string {
	t.Helper()
	var got []string
	for range 200 {
		socks, err := src.Sockets(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		got = linesOf(socks)
		if slices.Equal(got, want) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return got
}

// TestSourcesAgreeWithSS opens a socket in every state ls must show, on
// IPv4 and IPv6, and requires the netlink source, the proc source and ss to
// report exactly those sockets in exactly those states.
func TestSourcesAgreeWithSS(t *testing.T) {
	ns := testnet.New(t)
	want := testnet.Strings(append(ns.Textbook(t, "127.0.0.1"), ns.Textbook(t, "::1")...))

	all := inspect.Query{States: inspect.AllStates}
	t.Run("netlink", func(t *testing.T) {
		got := settle(t, &sockdiag.Source{NetNS: ns.FD()}, all, want)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("netlink source (-want +got):\n%s", diff)
		}
	})
	t.Run("proc", func(t *testing.T) {
		got := settle(t, &procsrc.Source{NetNS: ns.FD()}, all, want)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("proc source (-want +got):\n%s", diff)
		}
	})
	t.Run("ss", func(t *testing.T) {
		if diff := cmp.Diff(want, ns.SS(t, "-tuanH")); diff != "" {
			t.Errorf("ss -tuanH (-want +got):\n%s", diff)
		}
	})
}

// TestNetlinkStateMask checks that the kernel applies the state mask: a
// query for LISTEN returns the listeners and nothing else.
func TestNetlinkStateMask(t *testing.T) {
	ns := testnet.New(t)
	var want []string
	for _, w := range ns.Textbook(t, "127.0.0.1") {
		if w.Netid == "tcp" && w.State == "LISTEN" {
			want = append(want, w.String())
		}
	}
	for _, src := range []inspect.Source{&sockdiag.Source{NetNS: ns.FD()}, &procsrc.Source{NetNS: ns.FD()}} {
		got := settle(t, src, inspect.Query{Protocols: []inspect.Protocol{inspect.TCP}, States: inspect.StatesOf(inspect.Listen)}, want)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%T LISTEN only (-want +got):\n%s", src, diff)
		}
	}
}
