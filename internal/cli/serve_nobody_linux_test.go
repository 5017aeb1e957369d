package cli

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestServeAsNobody runs sockstate serve inside a namespace as nobody,
// with no capabilities, as the systemd unit in deploy/ does: sock_diag and
// the counters it reads need none, so it reports root's sockets, their
// connections per listening port as ss counts them (and the test's own
// connection to serve), and no failed stage.
func TestServeAsNobody(t *testing.T) {
	ns, _ := settledNS(t)
	_, ports := ssCounts(t, ns)
	addr := servedAt(t, serveAsNobody(t, ns, "--listen", "127.0.0.1:0")())

	// The test's own connection to serve is one more, on serve's port.
	ports[fmt.Sprintf(`sockstate_port_sockets{instance="",job="sockstate",port=%q,state="ESTABLISHED"}`, addr[strings.LastIndexByte(addr, ':')+1:])] = 1
	client := nsClient(ns)
	body, series := scrapeMetrics(t, client, addr, func(name string) bool { return strings.HasPrefix(name, "sockstate_port_sockets{") })
	got := map[string]float64{}
	for name, v := range series {
		got[strings.Replace(name, "{", `{instance="",job="sockstate",`, 1)] = v
	}
	if diff := cmp.Diff(ports, got); diff != "" {
		t.Errorf("sockstate_port_sockets as nobody (-ss +serve)\n%s", diff)
	}
	for _, want := range []string{
		"\nsockstate_collection_success 1\n",
		"\nsockstate_collection_errors_total{stage=\"netstat\"} 0\n",
		"\nsockstate_collection_errors_total{stage=\"port_range\"} 0\n",
		"\nsockstate_collection_errors_total{stage=\"sockets\"} 0\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics as nobody has no %q", want)
		}
	}
}
