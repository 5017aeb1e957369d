package exporter_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/exporter"
	"github.com/sockstate/sockstate/inspect/sockdiag"
	"github.com/sockstate/sockstate/internal/testnet"
)

// TestEnds counts failed connections without the tracer, from the
// kernel's destroy reports and the namespace's EstabResets: of one
// refused connect, one timed out (its SYNs to a down veth's peer
// unanswered, with one retry), two connections reset by the client, two
// by the server and one by its listener, closed while it was queued (each
// reset ends both ends: 5 x 2), one closed by the client first and one by
// the server first, exactly the refused, the timed out and the resets
// count.
func TestEnds(t *testing.T) {
	ns := testnet.New(t)
	ns.Blackhole(t)
	d, err := sockdiag.SubscribeDestroyed(ns.FD(), inspect.Query{Protocols: []inspect.Protocol{inspect.TCP}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	ends, err := exporter.NewEnds(ns.FD())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ends.Run(ctx, d) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v", err)
		}
	})
	for i, how := range []testnet.Ending{
		testnet.Refused, testnet.TimedOut, testnet.ClientLinger0, testnet.ClientLinger0, testnet.ServerLinger0, testnet.ServerLinger0,
		testnet.OrderlyClientFirst, testnet.OrderlyServerFirst, testnet.AcceptQueue,
	} {
		ns.End(t, how, uint16(7000+i))
	}
	want := series{
		`sockstate_connections_failed_total{cause="refused"}`: 1,
		`sockstate_connections_failed_total{cause="timeout"}`: 1,
		`sockstate_connections_failed_total{cause="reset"}`:   5 * 2,
		`sockstate_destroy_reports_lost_total`:                0,
	}
	var got series
	for range 200 {
		got = gather(t, ends)
		if got[`sockstate_connections_failed_total{cause="timeout"}`] >= 1 && got[`sockstate_connections_failed_total{cause="refused"}`] >= 1 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}
