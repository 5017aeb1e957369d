package exporter

import (
	"context"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sockstate/sockstate/inspect"
)

// Watcher reports sockets' state changes: trace.Events, whose transitions
// come from the kernel's tracepoint, each of them.
type Watcher interface {
	Watch(ctx context.Context, fn func([]inspect.WatchEvent) error) error
}

var (
	transitionsDesc = prometheus.NewDesc("sockstate_transitions_total",
		"TCP state changes, by the state left and the state entered, as the kernel's sock:inet_sock_set_state tracepoint reports them (TIME_WAIT: a time-wait socket confirmed by sock_diag).",
		[]string{"from", "to"}, nil)
	failedDesc = prometheus.NewDesc("sockstate_connections_failed_total",
		"TCP connections that ended without a close: connect (SYN_SENT to CLOSE: refused, timed out or abandoned), reset (ESTABLISHED or CLOSE_WAIT to CLOSE: a reset received or sent).",
		[]string{"cause"}, nil)
	lostDesc = prometheus.NewDesc("sockstate_transitions_lost_total",
		"TCP state changes the tracer lost (its ring buffer was full, or the kernel did not run it), which the other counters miss.",
		nil, nil)
)

// The causes of sockstate_connections_failed_total.
const (
	causeConnect = "connect"
	causeReset   = "reset"
)

// Transitions counts the state changes a Watcher reports, as Prometheus
// counters. The sockets a Watcher first reports as new are the ones that
// were there when it started, not changes, and are not counted.
type Transitions struct {
	mu     sync.Mutex
	counts map[[2]inspect.State]float64
	failed map[string]float64
	lost   float64
	ready  chan struct{}
}

var _ prometheus.Collector = (*Transitions)(nil)

// NewTransitions returns Transitions with every counter at 0.
func NewTransitions() *Transitions {
	return &Transitions{
		counts: map[[2]inspect.State]float64{},
		failed: map[string]float64{causeConnect: 0, causeReset: 0},
		ready:  make(chan struct{}),
	}
}

// Run counts what w reports until ctx ends or w fails, and returns w's
// error.
func (t *Transitions) Run(ctx context.Context, w Watcher) error {
	first := true
	return w.Watch(ctx, func(batch []inspect.WatchEvent) error {
		t.add(batch)
		if first {
			first = false
			close(t.ready)
		}
		return nil
	})
}

// Ready is closed once the Watcher's first batch, the sockets there when
// it started, has been seen: every change after it is counted.
func (t *Transitions) Ready() <-chan struct{} { return t.ready }

func (t *Transitions) add(batch []inspect.WatchEvent) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range batch {
		e := &batch[i]
		switch e.Kind {
		case inspect.EventChange:
			if e.From == e.To {
				// Not a change: a record of the state a socket
				// was first listed in, when its move there and
				// the first listing crossed.
				continue
			}
			t.counts[[2]inspect.State{e.From, e.To}]++
			if e.To != inspect.Close {
				continue
			}
			switch e.From {
			case inspect.SynSent:
				t.failed[causeConnect]++
			case inspect.Established, inspect.CloseWait:
				t.failed[causeReset]++
			}
		case inspect.EventLost:
			// An unknown count is at least one.
			t.lost += float64(max(e.Lost, 1))
		}
	}
}

// Describe sends the descriptions of the counters.
func (t *Transitions) Describe(ch chan<- *prometheus.Desc) {
	ch <- transitionsDesc
	ch <- failedDesc
	ch <- lostDesc
}

// Collect sends the counters: a transition once seen, each cause and the
// lost count always.
func (t *Transitions) Collect(ch chan<- prometheus.Metric) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, n := range t.counts {
		ch <- prometheus.MustNewConstMetric(transitionsDesc, prometheus.CounterValue, n, k[0].String(), k[1].String())
	}
	for cause, n := range t.failed {
		ch <- prometheus.MustNewConstMetric(failedDesc, prometheus.CounterValue, n, cause)
	}
	ch <- prometheus.MustNewConstMetric(lostDesc, prometheus.CounterValue, t.lost)
}
