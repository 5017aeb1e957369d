package exporter_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/inspect/exporter"
	"github.com/sockstate/sockstate/inspect/sockdiag"
	"github.com/sockstate/sockstate/internal/testnet"
)

// TestCollectDuringChurn collects 30 times while connections open and close
// at 2,000 a second: no collection fails, each accounts for every socket it
// counted, and once the churn stops the counts are ss's, with no series
// by port: the churn's listener is closed, and the TIME_WAIT sockets left
// on its port belong to no listening port.
func TestCollectDuringChurn(t *testing.T) {
	ns := testnet.New(t)
	churn := ns.StartChurn(t, 2000)
	c := newCollector(t, ns, &sockdiag.Source{NetNS: ns.FD()}, exporter.Config{Top: 3})
	listen := socketsKey("tcp", false, "LISTEN")
	for range 30 {
		got := gather(t, c)
		var sum float64
		for _, v := range got.only("sockstate_sockets{") {
			sum += v
		}
		if sum != got["sockstate_collection_sockets"] || got["sockstate_collection_sockets_unrecognized"] != 0 {
			t.Errorf("the states add up to %v of %v sockets counted, %v unrecognized", sum, got["sockstate_collection_sockets"], got["sockstate_collection_sockets_unrecognized"])
		}
		if got[listen] != 1 || got["sockstate_collection_success"] != 1 {
			t.Errorf("%s %v, success %v; want 1 and 1", listen, got[listen], got["sockstate_collection_success"])
		}
		time.Sleep(50 * time.Millisecond)
	}
	stats, _, err := churn.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if stats.Closed < 100 {
		t.Fatalf("the churn closed %d connections: too few to test anything", stats.Closed)
	}
	// The last connections' FINs may still be crossing loopback.
	var diff string
	for range 50 {
		want := series{}
		for _, line := range ns.SS(t, "-tuanH") {
			f := strings.Fields(line)
			want[socketsKey(f[0], strings.HasPrefix(f[2], "["), f[1])]++
		}
		all := gather(t, c)
		got := all.only("sockstate_sockets{").nonzero()
		for k, v := range all.only("sockstate_port_sockets{") {
			got[k] = v
		}
		if diff = cmp.Diff(want, got); diff == "" {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("after %d connections (-ss +sockstate)\n%s", stats.Closed, diff)
}
