package allnetns

import (
	"net"
	"syscall"
	"testing"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/internal/testnet"
)

// TestHoldsNone: a namespace is skipped only when its own counters say
// it holds nothing the query lists. A fresh namespace holds nothing; one
// left with only a TIME_WAIT socket holds a TCP socket; one with only a
// bound UDP socket holds nothing for -t and something for -u; a query of
// other kinds is never skipped.
func TestHoldsNone(t *testing.T) {
	tcp := inspect.Query{Protocols: []inspect.Protocol{inspect.TCP}}
	udp := inspect.Query{Protocols: []inspect.Protocol{inspect.UDP}}
	both := inspect.Query{}
	unix := inspect.Query{UnixTypes: []inspect.UnixType{inspect.UnixType(syscall.SOCK_STREAM)}}
	raw := inspect.Query{Protocols: []inspect.Protocol{inspect.TCP, inspect.Raw}}

	fresh := testnet.New(t)
	for _, tc := range []struct {
		name string
		q    inspect.Query
		want bool
	}{{"tcp", tcp, true}, {"udp", udp, true}, {"default", both, true}, {"unix", unix, false}, {"raw", raw, false}} {
		if got := holdsNone(fresh.FD(), &tc.q); got != tc.want {
			t.Errorf("fresh namespace, %s query: holdsNone %v, want %v", tc.name, got, tc.want)
		}
	}

	tw := testnet.New(t)
	ln := tw.Listen(t, "tcp", "127.0.0.1:0")
	tw.Do(t, func() error {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return err
		}
		s, err := ln.Accept()
		if err != nil {
			return err
		}
		// The client closes first and keeps the TIME_WAIT socket.
		c.Close()
		if _, err := s.Read(make([]byte, 1)); err == nil {
			t.Error("read after the client's close: no EOF")
		}
		return s.Close()
	})
	ln.Close()
	if got := tw.Run(t, "ss", "-tanH"); got == "" {
		t.Fatal("no TIME_WAIT socket left")
	}
	if holdsNone(tw.FD(), &tcp) {
		t.Errorf("a namespace holding a TIME_WAIT socket holds none by its counters")
	}

	u := testnet.New(t)
	var pc net.PacketConn
	u.Do(t, func() error {
		var err error
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		return err
	})
	defer pc.Close()
	if !holdsNone(u.FD(), &tcp) {
		t.Errorf("a namespace holding only a UDP socket holds a TCP one by its counters")
	}
	if holdsNone(u.FD(), &udp) || holdsNone(u.FD(), &both) {
		t.Errorf("a namespace holding a UDP socket holds none for -u by its counters")
	}
}
