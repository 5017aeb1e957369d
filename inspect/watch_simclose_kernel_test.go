package inspect_test

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/sockstate/sockstate/internal/testnet"
)

// TestWatchSimultaneousClose polls a simultaneous close
// (testnet.StartSimClose) with the netlink source and destroy reports,
// one poll while the client is in CLOSING and the server's end in
// FIN_WAIT1, one after both reached TIME_WAIT and every descriptor was
// closed, and requires exactly the events of each: CLOSING is polled.
func TestWatchSimultaneousClose(t *testing.T) {
	ns := testnet.New(t)
	g := startGatedWatch(t, ns)
	sc := ns.StartSimClose(t, 7400)
	l, c := sc.Listener, sc.Client
	unspec := netip.MustParseAddrPort("0.0.0.0:0")
	g.check("while the FINs cross", []string{
		fmt.Sprintf("new %v %v to LISTEN", l, unspec),
		fmt.Sprintf("new %v %v to FIN_WAIT1", l, c),
		fmt.Sprintf("new %v %v to CLOSING", c, l),
	})

	sc.Finish(t)
	// Both full sockets are freed; their reports end nothing, as each
	// connection lives on in its time-wait socket, which has its cookie.
	g.awaitReports(2)
	g.check("after", []string{
		fmt.Sprintf("change %v %v to TIME_WAIT", l, c),
		fmt.Sprintf("change %v %v to TIME_WAIT", c, l),
	})
	g.wt.stop()
}
