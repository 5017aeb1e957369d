package inspect_test

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/internal/testnet"
)

// TestWatchEndsFromReports: with the netlink source and destroy reports,
// gone events carry what the reports' tcp_info says. A client that sent
// 1,000 bytes, polled, then closed after the server's FIN is gone with
// bytes acked 1,002 (its data, SYN and FIN) and received 1 (the server's
// FIN), no cause, and a seen time; a connect refused between two polls is
// gone with cause refused, 0 bytes, and no seen time.
func TestWatchEndsFromReports(t *testing.T) {
	ns := testnet.New(t)
	g := startGatedWatch(t, ns)
	c, s, l, cl := g.connect(ns)
	if _, err := c.Write(make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(s, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}

	s.Close()
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("client read after the server's close: %v, want EOF", err)
	}
	c.Close()
	refused := ns.End(t, testnet.Refused, 7401)
	// The server's full socket (its connection lives on in TIME_WAIT),
	// the client, the refused connect.
	g.awaitReports(3)
	g.checkWithin("closed", []string{
		fmt.Sprintf("change %v %v to TIME_WAIT", l, cl),
		fmt.Sprintf("change %v %v to CLOSE", cl, l),
		fmt.Sprintf("gone %v %v from CLOSE", cl, l),
		fmt.Sprintf("gone %v %v from CLOSE", refused.Client, refused.Listener),
	})
	g.wt.stop()

	type end struct {
		Cause  inspect.Cause
		Bytes  *inspect.Bytes
		IsSeen bool
	}
	got := map[netip.AddrPort]end{}
	g.wt.mu.Lock()
	for _, e := range g.wt.events {
		if e.Kind == inspect.EventGone {
			got[e.Socket.Peer] = end{e.Cause, e.Bytes, e.Seen > 0}
		}
	}
	g.wt.mu.Unlock()
	want := map[netip.AddrPort]end{
		l:                {Bytes: &inspect.Bytes{Acked: 1002, Received: 1}, IsSeen: true},
		refused.Listener: {Cause: inspect.CauseRefused, Bytes: &inspect.Bytes{}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ends by peer (-want +got):\n%s", diff)
	}
}
