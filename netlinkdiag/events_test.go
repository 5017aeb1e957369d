package netlinkdiag

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// destroyMsg builds the message the kernel broadcasts when it frees a
// socket: nlmsg_seq and nlmsg_pid 0, INET_DIAG_PROTOCOL first.
func destroyMsg(family, proto uint8, cookie uint64, more ...[]byte) []byte {
	m := testMsg(family, cookie)
	m.State = 7
	m.Attrs = concat(append([][]byte{attr(AttrProtocol, []byte{proto})}, more...)...)
	return nlmsg(sockDiagByFamily, 0, 0, 0, encodeMsg(m))
}

// eventOf is the part of an Event the tests compare.
type eventOf struct {
	Protocol, Family, State uint8
	Cookie                  uint64
}

func collectEvents(dst *[]eventOf) func(*Event) error {
	return func(e *Event) error {
		*dst = append(*dst, eventOf{e.Protocol, e.Family, e.State, e.Cookie})
		return nil
	}
}

func TestParseEvents(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		want []eventOf
		err  error
	}{
		{"one", destroyMsg(afINET, 6, 1), []eventOf{{6, afINET, 7, 1}}, nil},
		{"two in a datagram", concat(destroyMsg(afINET6, 17, 2), destroyMsg(afINET, 6, 3)),
			[]eventOf{{17, afINET6, 7, 2}, {6, afINET, 7, 3}}, nil},
		{"protocol after tcp_info", destroyMsg(afINET, 0, 4, attr(AttrInfo, make([]byte, 232)), attr(AttrProtocol, []byte{6})),
			[]eventOf{{6, afINET, 7, 4}}, nil},
		{"no protocol", nlmsg(sockDiagByFamily, 0, 0, 0, encodeMsg(testMsg(afINET, 5))), []eventOf{{0, afINET, 1, 5}}, nil},
		{"other types skipped", concat(nlmsg(nlmsgNoop, 0, 0, 0, nil), destroyMsg(afINET, 6, 6), nlmsg(nlmsgDone, 0, 0, 0, errCode(0))),
			[]eventOf{{6, afINET, 7, 6}}, nil},
		{"last without padding", nlmsg(sockDiagByFamily, 0, 0, 0, encodeMsg(func() Msg {
			m := testMsg(afINET, 7)
			m.Attrs = attr(AttrProtocol, []byte{6})[:5]
			return m
		}()))[:16+72+5], []eventOf{{6, afINET, 1, 7}}, nil},
		{"short header", destroyMsg(afINET, 6, 8)[:15], nil, ErrShort},
		{"length beyond datagram", destroyMsg(afINET, 6, 9)[:40], nil, ErrShort},
		{"length below header", nlmsg(sockDiagByFamily, 0, 0, 0, nil)[:4], nil, ErrShort},
		{"zero length", make([]byte, 16), nil, ErrMalformed},
		{"short inet_diag_msg", nlmsg(sockDiagByFamily, 0, 0, 0, make([]byte, 71)), nil, ErrShort},
		{"bad family", destroyMsg(3, 6, 10), nil, ErrMalformed},
		{"bad protocol attribute", nlmsg(sockDiagByFamily, 0, 0, 0, encodeMsg(func() Msg {
			m := testMsg(afINET, 11)
			m.Attrs = attr(AttrProtocol, []byte{6, 0})
			return m
		}())), nil, ErrMalformed},
		{"good then bad", concat(destroyMsg(afINET, 6, 12), make([]byte, 8)), []eventOf{{6, afINET, 7, 12}}, ErrShort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []eventOf
			err := parseEvents(tt.b, new(Event), collectEvents(&got))
			if !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
				t.Errorf("parseEvents: %v, want %v", err, tt.err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseEventsCallbackError(t *testing.T) {
	errStop := errors.New("stop")
	calls := 0
	err := parseEvents(concat(destroyMsg(afINET, 6, 1), destroyMsg(afINET, 6, 2)), new(Event), func(*Event) error {
		calls++
		return errStop
	})
	if err != errStop || calls != 1 {
		t.Errorf("parseEvents: %v after %d calls, want errStop after 1", err, calls)
	}
}

// eventScript is a transport that hands out datagrams and errors in
// order; with nothing left a blocking recv times out, as a deadline would.
type eventScript struct {
	steps []any // []byte or error
}

func (s *eventScript) send([]byte) error { return errors.New("events are not sent") }

func (s *eventScript) recv(b []byte, block bool) (int, error) {
	if len(s.steps) == 0 {
		if block {
			return 0, os.ErrDeadlineExceeded
		}
		return 0, errWouldBlock
	}
	step := s.steps[0]
	s.steps = s.steps[1:]
	if err, ok := step.(error); ok {
		return 0, err
	}
	return copy(b, step.([]byte)), nil
}

func (s *eventScript) setReadDeadline(time.Time) error { return nil }
func (s *eventScript) portID() uint32                  { return 0 }
func (s *eventScript) close() error                    { return nil }

func TestReceive(t *testing.T) {
	enobufs := os.NewSyscallError("recvfrom", syscall.ENOBUFS)
	tests := []struct {
		name  string
		steps []any
		want  []eventOf
		err   error
		left  int
	}{
		{"drains what is queued", []any{destroyMsg(afINET, 6, 1), destroyMsg(afINET6, 17, 2)},
			[]eventOf{{6, afINET, 7, 1}, {17, afINET6, 7, 2}}, nil, 0},
		{"overflow first", []any{enobufs, destroyMsg(afINET, 6, 3)}, nil, ErrEventsLost, 1},
		{"overflow after one", []any{destroyMsg(afINET, 6, 4), enobufs, destroyMsg(afINET, 6, 5)},
			[]eventOf{{6, afINET, 7, 4}}, ErrEventsLost, 1},
		{"other error", []any{errors.New("boom")}, nil, nil, 0},
		{"nothing", nil, nil, os.ErrDeadlineExceeded, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &eventScript{steps: tt.steps}
			c := newEventConn(s, 0)
			var got []eventOf
			err := c.Receive(context.Background(), collectEvents(&got))
			switch {
			case tt.name == "other error":
				if err == nil || errors.Is(err, ErrEventsLost) {
					t.Errorf("Receive: %v, want the transport's error, not ErrEventsLost", err)
				}
			case !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil):
				t.Errorf("Receive: %v, want %v", err, tt.err)
			}
			if tt.err == ErrEventsLost && !errors.Is(err, syscall.ENOBUFS) {
				t.Errorf("Receive: %v does not wrap ENOBUFS", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if len(s.steps) != tt.left {
				t.Errorf("%d steps left, want %d", len(s.steps), tt.left)
			}
		})
	}
}

func TestReceiveCanceled(t *testing.T) {
	c := newEventConn(&eventScript{steps: []any{destroyMsg(afINET, 6, 1)}}, 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Receive(ctx, func(*Event) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("Receive after cancel: %v, want context.Canceled", err)
	}
}

func FuzzParseEvents(f *testing.F) {
	f.Add(destroyMsg(afINET, 6, 1))
	f.Add(concat(destroyMsg(afINET6, 17, 2), destroyMsg(afINET, 6, 3, attr(AttrInfo, make([]byte, 16)))))
	f.Add(concat(nlmsg(nlmsgNoop, 0, 0, 0, nil), destroyMsg(afINET, 6, 4)[:50]))
	f.Fuzz(func(t *testing.T, b []byte) {
		calls := 0
		err := parseEvents(b, new(Event), func(e *Event) error {
			calls++
			checkMsg(t, &e.Msg)
			return nil
		})
		if err != nil && !errors.Is(err, ErrShort) && !errors.Is(err, ErrMalformed) {
			t.Fatalf("parseEvents: %v wraps neither ErrShort nor ErrMalformed", err)
		}
		// Every event took a header and an inet_diag_msg from b.
		if calls*(sizeofNlMsghdr+sizeofInetDiagMsg) > len(b) {
			t.Fatalf("%d events from %d bytes", calls, len(b))
		}
	})
}
