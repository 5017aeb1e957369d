package cli

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sockstate/sockstate/internal/testnet"
)

// TestServeTransitionsAllNetns: serve --transitions --all-netns counts
// the state changes of every namespace, so connections refused in three
// namespaces made by the test, none of them serve's, are counted. The
// counters are the host's, which other work moves too: the test requires
// them to grow by at least its own, and the refused connections'
// SYN_SENT -> CLOSE with cause refused, which only a refused connect
// makes.
func TestServeTransitionsAllNetns(t *testing.T) {
	addr := startServe(t, "--transitions", "--all-netns")
	const refused = `sockstate_transitions_total{cause="refused",from="SYN_SENT",to="CLOSE"}`
	const failed = `sockstate_connections_failed_total{cause="refused"}`
	before := counters(t, addr, refused, failed)
	const perNS = 4
	nss := []*testnet.NS{testnet.New(t), testnet.New(t), testnet.NewUnnamed(t)}
	for _, ns := range nss {
		for range perNS {
			ns.End(t, testnet.Refused, 7021)
		}
	}
	want := float64(perNS * len(nss))
	var got map[string]float64
	for range 100 {
		got = counters(t, addr, refused, failed)
		if got[refused]-before[refused] >= want && got[failed]-before[failed] >= want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("after %v refused connections in the test's namespaces, the counters went from %v to %v", want, before, got)
}

// counters returns the values of the series named, 0 for one not shown.
func counters(t *testing.T, addr string, series ...string) map[string]float64 {
	t.Helper()
	_, body := get(t, "GET", "http://"+addr+"/metrics")
	got := map[string]float64{}
	for _, s := range series {
		got[s] = 0
	}
	for _, line := range strings.Split(body, "\n") {
		name, value, ok := strings.Cut(line, " ")
		if _, want := got[name]; !ok || !want {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(value, &v); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		got[name] = v
	}
	return got
}
