package exporter_test

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/inspect/exporter"
	"github.com/sockstate/sockstate/inspect/sockdiag"
	"github.com/sockstate/sockstate/internal/testnet"
	"github.com/sockstate/sockstate/procnet"
)

// TestCollectDuringChurn collects 30 times while connections open and close
// at 2,000 a second, one every 50 ms (with SOCKSTATE_CHURN_SECONDS=60, for
// 60 s: the figure, logged with the rate achieved): no collection
// fails, each accounts for every socket it counted, and each counts as many
// TCP sockets as the namespace's sockstat counters said just before or
// just after it, give or take what the churn moved meanwhile (two sockets
// per connection closed during the collection or in flight); once the
// churn stops the counts are ss's, with no series by port: the churn's
// listener is closed, and the TIME_WAIT sockets left on its port belong to
// no listening port.
func TestCollectDuringChurn(t *testing.T) {
	collections, d := 30, time.Duration(0)
	if v := os.Getenv("SOCKSTATE_CHURN_SECONDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 600 {
			t.Fatalf("SOCKSTATE_CHURN_SECONDS=%q: want 1 to 600", v)
		}
		collections, d = n*100, time.Duration(n)*time.Second
	}
	ns := testnet.New(t)
	churn := ns.StartChurn(t, 2000)
	c := newCollector(t, ns, &sockdiag.Source{NetNS: ns.FD()}, exporter.Config{Top: 3})
	listen := socketsKey("tcp", false, "LISTEN")
	start, made, bad, worst := time.Now(), 0, 0, 0.0
	for made < collections && (d == 0 || time.Since(start) < d) {
		closed0, before := churn.Closed(), tcpInUse(t, ns)
		got := gather(t, c)
		closed1, after := churn.Closed(), tcpInUse(t, ns)
		made++
		var sum, tcp float64
		for k, v := range got.only("sockstate_sockets{") {
			sum += v
			if strings.Contains(k, `protocol="tcp"`) {
				tcp += v
			}
		}
		ok := sum == got["sockstate_collection_sockets"] && got["sockstate_collection_sockets_unrecognized"] == 0 &&
			got[listen] == 1 && got["sockstate_collection_success"] == 1
		if !ok {
			bad++
		}
		if sum != got["sockstate_collection_sockets"] || got["sockstate_collection_sockets_unrecognized"] != 0 {
			t.Errorf("the states add up to %v of %v sockets counted, %v unrecognized", sum, got["sockstate_collection_sockets"], got["sockstate_collection_sockets_unrecognized"])
		}
		if got[listen] != 1 || got["sockstate_collection_success"] != 1 {
			t.Errorf("%s %v, success %v; want 1 and 1", listen, got[listen], got["sockstate_collection_success"])
		}
		moved := float64(2 * (closed1 - closed0 + testnet.ChurnInFlight))
		off := max(min(before, after)-tcp, tcp-max(before, after), 0)
		worst = max(worst, off)
		if off > moved {
			bad++
			t.Errorf("counted %v TCP sockets; sockstat said %v before and %v after, and the churn moved %v: %v too many or too few", tcp, before, after, moved, off-moved)
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
	t.Logf("%d collections in %v, %d failed or off; churn: %d connections closed in %v (%.0f a second), %d failed; the most a count differed from sockstat's bracket: %v sockets",
		made, time.Since(start).Round(time.Millisecond), bad, stats.Closed, stats.Elapsed.Round(time.Millisecond), float64(stats.Closed)/stats.Elapsed.Seconds(), stats.Failed, worst)
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

// tcpInUse is ns's TCP sockets by its sockstat counters: those in the hash
// tables of both families, and in TIME_WAIT.
func tcpInUse(t *testing.T, ns *testnet.NS) float64 {
	t.Helper()
	var st procnet.Sockstat
	ns.Do(t, func() error {
		var err error
		st, err = procnet.NewFS("/proc/thread-self").ReadSockstat()
		return err
	})
	return float64(st.TCP.InUse + st.TCP6.InUse + st.TCP.TW)
}
