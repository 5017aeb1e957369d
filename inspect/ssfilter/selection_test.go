package ssfilter

import (
	"errors"
	"testing"

	"github.com/sockstate/sockstate/inspect"
)

func TestParseStateSelection(t *testing.T) {
	tests := []struct {
		name  string
		words []string
		want  inspect.StateSet
		given bool
		rest  []string
	}{
		{"none", []string{"dport", "=", ":80"}, 0, false, []string{"dport", "=", ":80"}},
		{"one", []string{"state", "established"}, inspect.StatesOf(inspect.Established), true, []string{}},
		{"two", []string{"state", "time-wait", "state", "FIN_WAIT2"}, inspect.StatesOf(inspect.TimeWait, inspect.FinWait2), true, []string{}},
		{"group", []string{"state", "connected"}, inspect.AllStates &^ inspect.StatesOf(inspect.Listen, inspect.Close), true, []string{}},
		{"synchronized", []string{"state", "synchronized"}, inspect.AllStates &^ inspect.StatesOf(inspect.Listen, inspect.Close, inspect.SynSent), true, []string{}},
		{"bucket", []string{"state", "bucket"}, inspect.StatesOf(inspect.SynRecv, inspect.TimeWait), true, []string{}},
		{"big", []string{"state", "big"}, inspect.AllStates &^ inspect.StatesOf(inspect.SynRecv, inspect.TimeWait, inspect.NewSynRecv), true, []string{}},
		{"exclude from all", []string{"exclude", "established"}, inspect.AllStates &^ inspect.StatesOf(inspect.Established), true, []string{}},
		{"state then exclude", []string{"state", "connected", "exclude", "time-wait", "sport", ">", ":1"},
			inspect.ConnectedStates &^ inspect.StatesOf(inspect.TimeWait), true, []string{"sport", ">", ":1"}},
		{"listen alias", []string{"state", "listen"}, inspect.StatesOf(inspect.Listen), true, []string{}},
		{"case", []string{"state", "Established"}, inspect.StatesOf(inspect.Established), true, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, given, rest, err := ParseStateSelection(tt.words)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || given != tt.given || len(rest) != len(tt.rest) {
				t.Fatalf("got %#x %v %q, want %#x %v %q", got, given, rest, tt.want, tt.given, tt.rest)
			}
			for i := range rest {
				if rest[i] != tt.rest[i] {
					t.Fatalf("rest %q, want %q", rest, tt.rest)
				}
			}
		})
	}
}

func TestParseStateSelectionErrors(t *testing.T) {
	tests := []struct {
		name  string
		words []string
		msg   string
	}{
		{"typo", []string{"state", "establisehd"}, `ssfilter: bad state selection: unknown state "establisehd"; did you mean established? (states: established, syn-sent, syn-recv, fin-wait-1, fin-wait-2, time-wait, closed, close-wait, last-ack, listening, closing, all, connected, synchronized, bucket, big)`},
		{"typo of a kernel name", []string{"state", "TIME_WIAT"}, `ssfilter: bad state selection: unknown state "TIME_WIAT"; did you mean time-wait? (states: established, syn-sent, syn-recv, fin-wait-1, fin-wait-2, time-wait, closed, close-wait, last-ack, listening, closing, all, connected, synchronized, bucket, big)`},
		{"typo of listen", []string{"exclude", "listn"}, `ssfilter: bad state selection: unknown state "listn"; did you mean listening? (states: established, syn-sent, syn-recv, fin-wait-1, fin-wait-2, time-wait, closed, close-wait, last-ack, listening, closing, all, connected, synchronized, bucket, big)`},
		{"unknown", []string{"state", "sleeping"}, `ssfilter: bad state selection: unknown state "sleeping"; use one of established, syn-sent, syn-recv, fin-wait-1, fin-wait-2, time-wait, closed, close-wait, last-ack, listening, closing, all, connected, synchronized, bucket, big`},
		{"missing", []string{"state"}, `ssfilter: bad state selection: "state" needs a state name after it, such as established`},
		{"missing exclude", []string{"state", "listening", "exclude"}, `ssfilter: bad state selection: "exclude" needs a state name after it, such as established`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, err := ParseStateSelection(tt.words)
			if !errors.Is(err, ErrStateSelection) {
				t.Fatalf("err = %v, want ErrStateSelection", err)
			}
			if err.Error() != tt.msg {
				t.Errorf("message\n got %s\nwant %s", err, tt.msg)
			}
		})
	}
}
