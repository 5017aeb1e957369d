package exporter_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/exporter"
	"github.com/sockstate/sockstate/inspect/sockdiag"
	"github.com/sockstate/sockstate/inspect/trace"
	"github.com/sockstate/sockstate/internal/testnet"
)

// TestTransitions counts, from the kernel's tracepoint, what a namespace's
// connections do after the counting starts: three closed by the client
// first, two reset (SO_LINGER 0), one refused and one timed out (its SYNs
// to a down veth's peer unanswered, with one retry). The counters move by
// exactly those connections' transitions, each end by its cause, and the
// histograms count each state left by a socket seen entering it.
func TestTransitions(t *testing.T) {
	ns := testnet.New(t)
	ns.Blackhole(t)
	ln := ns.Listen(t, "tcp", "127.0.0.1:0")
	tr, err := trace.Open(&trace.Options{NetNS: ns.FD()})
	if errors.Is(err, ebpf.ErrNotSupported) {
		t.Skipf("this kernel cannot run the trace source: %v", err)
	}
	if err != nil {
		t.Fatalf("trace.Open: %v", err)
	}
	tt := exporter.NewTransitions()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- tt.Run(ctx, &trace.Events{Tracer: tr, Source: &sockdiag.Source{NetNS: ns.FD()},
			Query: inspect.Query{Protocols: []inspect.Protocol{inspect.TCP}, States: inspect.AllStates}})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-tt.Ready():
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the first batch never came")
	}

	clients, servers := pairs(t, ns, ln, 5)
	for i := range 3 {
		clients[i].Close()
		waitState(t, ns, addrPort(servers[i].LocalAddr()).String(), addrPort(servers[i].RemoteAddr()).String(), "CLOSE-WAIT")
		servers[i].Close()
	}
	for i := 3; i < 5; i++ {
		if err := clients[i].(*net.TCPConn).SetLinger(0); err != nil {
			t.Fatal(err)
		}
		clients[i].Close()
	}
	// A port nobody listens on: ln's, once closed.
	port := port(ln.Addr())
	ln.Close()
	ns.End(t, testnet.Refused, port)
	ns.End(t, testnet.TimedOut, port)

	const n = 5
	want := series{
		// Every connection's handshake, both ends, and the failed
		// connects' SYNs.
		`sockstate_transitions_total{cause="",from="CLOSE",to="SYN_SENT"}`:       n + 2,
		`sockstate_transitions_total{cause="",from="SYN_SENT",to="ESTABLISHED"}`: n,
		// The kernel clones a server's end from the listener, in LISTEN.
		`sockstate_transitions_total{cause="",from="LISTEN",to="SYN_RECV"}`:       n,
		`sockstate_transitions_total{cause="",from="SYN_RECV",to="ESTABLISHED"}`:  n,
		`sockstate_transitions_total{cause="refused",from="SYN_SENT",to="CLOSE"}`: 1,
		`sockstate_transitions_total{cause="timeout",from="SYN_SENT",to="CLOSE"}`: 1,
		// Three closes, the client first; the server's end closes last.
		`sockstate_transitions_total{cause="",from="ESTABLISHED",to="FIN_WAIT1"}`:  3,
		`sockstate_transitions_total{cause="",from="ESTABLISHED",to="CLOSE_WAIT"}`: 3,
		`sockstate_transitions_total{cause="",from="FIN_WAIT1",to="FIN_WAIT2"}`:    3,
		`sockstate_transitions_total{cause="",from="CLOSE_WAIT",to="LAST_ACK"}`:    3,
		`sockstate_transitions_total{cause="",from="FIN_WAIT2",to="TIME_WAIT"}`:    3,
		`sockstate_transitions_total{cause="closed",from="LAST_ACK",to="CLOSE"}`:   3,
		// Two resets: the client aborts, the server gets the RST.
		`sockstate_transitions_total{cause="reset-sent",from="ESTABLISHED",to="CLOSE"}`:     2,
		`sockstate_transitions_total{cause="reset-received",from="ESTABLISHED",to="CLOSE"}`: 2,
		// The listener closing.
		`sockstate_transitions_total{cause="closed",from="LISTEN",to="CLOSE"}`: 1,
		`sockstate_connections_failed_total{cause="refused"}`:                  1,
		`sockstate_connections_failed_total{cause="timeout"}`:                  1,
		`sockstate_connections_failed_total{cause="reset"}`:                    2 * 2,
		`sockstate_transitions_lost_total`:                                     0,
		// Each state left by a socket seen entering it, and the
		// listener, there from the first listing.
		`sockstate_state_duration_seconds{state="SYN_SENT"}`:    n + 2,
		`sockstate_state_duration_seconds{state="SYN_RECV"}`:    n,
		`sockstate_state_duration_seconds{state="ESTABLISHED"}`: 3 + 3 + 2*2,
		`sockstate_state_duration_seconds{state="FIN_WAIT1"}`:   3,
		`sockstate_state_duration_seconds{state="FIN_WAIT2"}`:   3,
		`sockstate_state_duration_seconds{state="CLOSE_WAIT"}`:  3,
		`sockstate_state_duration_seconds{state="LAST_ACK"}`:    3,
		`sockstate_state_duration_seconds{state="LISTEN"}`:      1,
	}
	var got series
	// Bounded at ten seconds or more: at load 12, two were too few.
	for range 1000 {
		got = gather(t, tt)
		if got[`sockstate_transitions_total{cause="closed",from="LAST_ACK",to="CLOSE"}`] >= 3 && got[`sockstate_transitions_total{cause="",from="FIN_WAIT2",to="TIME_WAIT"}`] >= 3 &&
			got[`sockstate_connections_failed_total{cause="reset"}`] >= 4 && got[`sockstate_connections_failed_total{cause="timeout"}`] >= 1 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}
