package cli

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/internal/testnet"
)

// TestServeTransitionsWithoutTracing runs serve --transitions inside a
// namespace as nobody, without capabilities, so that the tracer cannot
// load: its first line says so and that the failed
// connections come from the kernel's reports of freed sockets, and its
// counters move by exactly the connections the test refused (1), timed
// out (1, SYNs to a down veth's peer with one retry) and reset (1 with
// SO_LINGER 0: both ends).
func TestServeTransitionsWithoutTracing(t *testing.T) {
	ns := testnet.New(t)
	ns.Blackhole(t)
	next := serveAsNobody(t, ns, "--transitions", "--listen", "127.0.0.1:0")
	first := next()
	if !strings.HasPrefix(first, "sockstate: serve: --transitions: no tracing (trace: loading the eBPF program needs CAP_BPF and CAP_PERFMON (run as root): operation not permitted") ||
		!strings.HasSuffix(first, "): sockstate_connections_failed_total from the kernel's reports of freed sockets (refused, timeout) and Tcp EstabResets (reset); no sockstate_transitions_total or state durations") {
		t.Fatalf("first line %q", first)
	}
	addr := servedAt(t, next())

	ns.End(t, testnet.Refused, 7000)
	ns.End(t, testnet.TimedOut, 7001)
	ns.End(t, testnet.ClientLinger0, 7002)
	want := map[string]float64{
		`sockstate_connections_failed_total{cause="refused"}`: 1,
		`sockstate_connections_failed_total{cause="timeout"}`: 1,
		`sockstate_connections_failed_total{cause="reset"}`:   2,
		`sockstate_destroy_reports_lost_total`:                0,
	}
	client := nsClient(ns)
	var got map[string]float64
	for range 100 {
		got = failedCounters(t, client, addr)
		if cmp.Equal(want, got) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	client.CloseIdleConnections()
}

// failedCounters gets /metrics and returns the failed connection counters
// and the lost reports.
func failedCounters(t *testing.T, client *http.Client, addr string) map[string]float64 {
	t.Helper()
	_, got := scrapeMetrics(t, client, addr, func(name string) bool {
		return strings.HasPrefix(name, "sockstate_connections_failed_total") || strings.HasPrefix(name, "sockstate_destroy_reports_lost_total")
	})
	return got
}
