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
			got := check(tt.closer, seen(tt.closer, tt.listener, tt.server, tt.cl), nil)
			if diff := cmp.Diff(tt.missed, got); diff != "" {
				t.Errorf("missed (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("nothing seen, ss's names", func(t *testing.T) {
		want := []string{
			"LISTEN on the listener",
			"ESTAB on the server conn",
			"ESTAB on the client",
			"FIN-WAIT-1 or FIN-WAIT-2 on the client, which closes first",
			"TIME-WAIT after FIN-WAIT on the client, which closes first",
			"CLOSE-WAIT on the server conn",
		}
		if diff := cmp.Diff(want, check(ClientCloses, seen(ClientCloses, nil, nil, nil), ssNames)); diff != "" {
			t.Errorf("missed (-want +got):\n%s", diff)
		}
	})
}

// ssNames spells the textbook's states as ss does (internal/cli holds the
// whole table).
func ssNames(st inspect.State) string {
	return map[inspect.State]string{
		inspect.Listen: "LISTEN", inspect.SynSent: "SYN-SENT", inspect.SynRecv: "SYN-RECV",
		inspect.Established: "ESTAB", inspect.FinWait1: "FIN-WAIT-1", inspect.FinWait2: "FIN-WAIT-2",
		inspect.TimeWait: "TIME-WAIT", inspect.CloseWait: "CLOSE-WAIT", inspect.LastAck: "LAST-ACK",
		inspect.Close: "UNCONN",
	}[st]
}

// TestNames spells states, gone and a sequence both ways.
func TestNames(t *testing.T) {
	seq := []inspect.State{inspect.SynSent, inspect.Established, inspect.FinWait1, inspect.FinWait2, inspect.TimeWait, inspect.Close, Gone}
	for _, tt := range []struct {
		names   Names
		want    string
		finWait string
	}{
		{nil, "SYN_SENT -> ESTABLISHED -> FIN_WAIT1 -> FIN_WAIT2 -> TIME_WAIT -> CLOSE -> gone", "FIN_WAIT"},
		{ssNames, "SYN-SENT -> ESTAB -> FIN-WAIT-1 -> FIN-WAIT-2 -> TIME-WAIT -> UNCONN -> gone", "FIN-WAIT"},
	} {
		if got := tt.names.States(seq); got != tt.want {
			t.Errorf("States = %q, want %q", got, tt.want)
		}
		if got := tt.names.finWait(); got != tt.finWait {
			t.Errorf("finWait = %q, want %q", got, tt.finWait)
		}
	}
}
