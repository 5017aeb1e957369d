package inspect

import (
	"testing"
)

func TestStateNames(t *testing.T) {
	tests := []struct {
		s      State
		kernel string
		ss     string
	}{
		{Established, "ESTABLISHED", "established"},
		{SynSent, "SYN_SENT", "syn-sent"},
		{SynRecv, "SYN_RECV", "syn-recv"},
		{FinWait1, "FIN_WAIT1", "fin-wait-1"},
		{FinWait2, "FIN_WAIT2", "fin-wait-2"},
		{TimeWait, "TIME_WAIT", "time-wait"},
		{Close, "CLOSE", "closed"},
		{CloseWait, "CLOSE_WAIT", "close-wait"},
		{LastAck, "LAST_ACK", "last-ack"},
		{Listen, "LISTEN", "listening"},
		{Closing, "CLOSING", "closing"},
		{NewSynRecv, "NEW_SYN_RECV", "new-syn-recv"},
		{0, "unknown(0)", "unknown(0)"},
		{BoundInactive, "BOUND_INACTIVE", "bound-inactive"},
		{14, "unknown(14)", "unknown(14)"},
		{255, "unknown(255)", "unknown(255)"},
	}
	for _, tt := range tests {
		t.Run(tt.kernel, func(t *testing.T) {
			if got := tt.s.String(); got != tt.kernel {
				t.Errorf("State(%d).String() = %q, want %q", uint8(tt.s), got, tt.kernel)
			}
			if got := tt.s.SSName(); got != tt.ss {
				t.Errorf("State(%d).SSName() = %q, want %q", uint8(tt.s), got, tt.ss)
			}
			if tt.s == 0 || tt.s > maxState {
				return
			}
			for _, name := range []string{tt.kernel, tt.ss} {
				got, err := ParseState(name)
				if err != nil || got != tt.s {
					t.Errorf("ParseState(%q) = %v, %v; want %v", name, got, err, tt.s)
				}
			}
		})
	}
}

// TestStateNumbers pins the numbering to include/net/tcp_states.h.
func TestStateNumbers(t *testing.T) {
	want := map[State]uint8{Established: 1, SynSent: 2, SynRecv: 3, FinWait1: 4, FinWait2: 5,
		TimeWait: 6, Close: 7, CloseWait: 8, LastAck: 9, Listen: 10, Closing: 11, NewSynRecv: 12, BoundInactive: 13}
	for s, n := range want {
		if uint8(s) != n {
			t.Errorf("%s = %d, want %d", s, uint8(s), n)
		}
	}
	if AllStates.Has(BoundInactive) {
		t.Error("AllStates has BOUND_INACTIVE, which the kernel lists only when asked for it alone")
	}
}

func TestStateSetDefaults(t *testing.T) {
	// The sets ss selects, measured with ss on the same sockets: no flag
	// hides LISTEN, UNCONN, TIME_WAIT and SYN_RECV; -l shows LISTEN and UNCONN.
	if want := StatesOf(Established, SynSent, FinWait1, FinWait2, CloseWait, LastAck, Closing); DefaultStates != want {
		t.Errorf("DefaultStates = %#x, want %#x", DefaultStates, want)
	}
	if want := StatesOf(Listen, Close); ListeningStates != want {
		t.Errorf("ListeningStates = %#x, want %#x", ListeningStates, want)
	}
	if AllStates != 0x1ffe {
		t.Errorf("AllStates = %#x, want 0x1ffe", AllStates)
	}
}
