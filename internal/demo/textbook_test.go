package demo

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/sockstate/sockstate/inspect"
)

func TestProgress(t *testing.T) {
	tests := []struct {
		name    string
		role    Role
		closer  Closer
		seen    []inspect.State
		skipped [][]inspect.State
	}{
		{"closer, every state seen", ServerConn, ServerCloses,
			[]inspect.State{inspect.SynRecv, inspect.Established, inspect.FinWait1, inspect.FinWait2, inspect.TimeWait},
			[][]inspect.State{nil, nil, nil, nil, nil}},
		{"closer, polled on loopback", ServerConn, ServerCloses,
			[]inspect.State{inspect.Established, inspect.FinWait2, inspect.TimeWait},
			[][]inspect.State{{inspect.SynRecv}, {inspect.FinWait1}, nil}},
		{"other end, polled on loopback", Client, ServerCloses,
			[]inspect.State{inspect.Established, inspect.CloseWait, Gone},
			[][]inspect.State{{inspect.SynSent}, nil, {inspect.LastAck}}},
		{"client closes", Client, ClientCloses,
			[]inspect.State{inspect.Established, inspect.TimeWait},
			[][]inspect.State{{inspect.SynSent}, {inspect.FinWait1, inspect.FinWait2}}},
		{"request socket", ServerConn, ClientCloses,
			[]inspect.State{inspect.NewSynRecv, inspect.Established, inspect.CloseWait},
			[][]inspect.State{nil, nil, nil}},
		{"out of order implies nothing", Client, ServerCloses,
			[]inspect.State{inspect.Established, inspect.Closing, inspect.CloseWait},
			[][]inspect.State{{inspect.SynSent}, nil, nil}},
		{"listener", Listener, ServerCloses,
			[]inspect.State{Gone},
			[][]inspect.State{{inspect.Listen}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProgress(tt.role, tt.closer, false)
			var skipped [][]inspect.State
			for _, st := range tt.seen {
				skipped = append(skipped, p.enter(st))
			}
			if diff := cmp.Diff(tt.skipped, skipped, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("passed through, not observed (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	seen := func(closer Closer, listener, server, client []inspect.State) map[Role]*progress {
		m := map[Role]*progress{}
		for r, sts := range map[Role][]inspect.State{Listener: listener, ServerConn: server, Client: client} {
			m[r] = newProgress(r, closer, false)
			for _, st := range sts {
				m[r].enter(st)
			}
		}
		return m
	}
	L := []inspect.State{inspect.Listen, Gone}
	tests := []struct {
		name                 string
		closer               Closer
		listener, server, cl []inspect.State
		missed               []string
	}{
		{"server closes, all seen", ServerCloses, L,
			[]inspect.State{inspect.Established, inspect.FinWait2, inspect.TimeWait},
			[]inspect.State{inspect.Established, inspect.CloseWait, Gone}, nil},
		{"client closes, FIN_WAIT1 only", ClientCloses, L,
			[]inspect.State{inspect.Established, inspect.CloseWait, Gone},
			[]inspect.State{inspect.Established, inspect.FinWait1, inspect.TimeWait}, nil},
		{"nothing seen", ServerCloses, nil, nil, nil, []string{
			"LISTEN on the listener",
			"ESTABLISHED on the server conn",
			"ESTABLISHED on the client",
			"FIN_WAIT1 or FIN_WAIT2 on the server conn, which closes first",
			"TIME_WAIT after FIN_WAIT on the server conn, which closes first",
			"CLOSE_WAIT on the client",
		}},
		{"TIME_WAIT without FIN_WAIT", ServerCloses, L,
			[]inspect.State{inspect.Established, inspect.TimeWait},
			[]inspect.State{inspect.Established, inspect.CloseWait, Gone},
			[]string{"FIN_WAIT1 or FIN_WAIT2 on the server conn, which closes first"}},
		{"wrong side closed", ServerCloses, L,
			[]inspect.State{inspect.Established, inspect.CloseWait, Gone},
			[]inspect.State{inspect.Established, inspect.FinWait2, inspect.TimeWait},
			[]string{
				"FIN_WAIT1 or FIN_WAIT2 on the server conn, which closes first",
				"TIME_WAIT after FIN_WAIT on the server conn, which closes first",
				"CLOSE_WAIT on the client",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := check(tt.closer, seen(tt.closer, tt.listener, tt.server, tt.cl))
			if diff := cmp.Diff(tt.missed, got); diff != "" {
				t.Errorf("missed (-want +got):\n%s", diff)
			}
		})
	}
}
