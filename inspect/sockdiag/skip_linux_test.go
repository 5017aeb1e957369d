package sockdiag_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/sockdiag"
	"github.com/sockstate/sockstate/internal/testnet"
	"github.com/sockstate/sockstate/netlinkdiag"
)

// recordingConn is a real sock_diag connection that notes each dump asked
// of it as protocol/family.
type recordingConn struct {
	*netlinkdiag.Conn
	dumps *[]string
}

func (c recordingConn) DumpOnce(ctx context.Context, req netlinkdiag.Request, fn func(*netlinkdiag.Msg) error) error {
	*c.dumps = append(*c.dumps, fmt.Sprintf("%d/%d", req.Protocol, req.Family))
	return c.Conn.DumpOnce(ctx, req, fn)
}

// TestEachSkipsEmptyUDP requires Each to skip the dump of a UDP family
// that the namespace's sockstat counters prove empty, and to dump it, and
// list its socket, once it has one.
func TestEachSkipsEmptyUDP(t *testing.T) {
	ns := testnet.New(t)
	var dumps []string
	src := &sockdiag.Source{NetNS: ns.FD(), Dial: func(cfg *netlinkdiag.Config) (sockdiag.DiagConn, error) {
		c, err := netlinkdiag.Dial(cfg)
		if err != nil {
			return nil, err
		}
		return recordingConn{c, &dumps}, nil
	}}
	q := inspect.Query{Protocols: []inspect.Protocol{inspect.UDP, inspect.TCP}, States: inspect.AllStates, Inline: true}
	list := func() []string {
		t.Helper()
		dumps = nil
		var got []string
		err := inspect.Each(context.Background(), src, q, func(b []inspect.Socket) error {
			for _, s := range b {
				got = append(got, lineOf(s))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	tcp := fmt.Sprintf("%d/0", inspect.TCP)
	if got := list(); len(got) != 0 || !cmp.Equal(dumps, []string{tcp}) {
		t.Errorf("empty namespace: listed %q with dumps %q, want nothing with %q", got, dumps, []string{tcp})
	}
	var conn net.PacketConn
	ns.Do(t, func() error {
		var err error
		conn, err = net.ListenPacket("udp4", "127.0.0.1:0")
		return err
	})
	defer conn.Close()
	want := []string{lineOf(inspect.Socket{Protocol: inspect.UDP, State: inspect.Close, Local: conn.LocalAddr().(*net.UDPAddr).AddrPort(), Peer: netip.AddrPortFrom(netip.IPv4Unspecified(), 0)})}
	wantDumps := []string{fmt.Sprintf("%d/%d", inspect.UDP, inspect.INet), tcp}
	got := list()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("one UDP socket (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantDumps, dumps); diff != "" {
		t.Errorf("one UDP socket: dumps (-want +got):\n%s", diff)
	}
}
