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
		"TCP state changes, by the state left and the state entered, as the kernel's sock:inet_sock_set_state tracepoint reports them (TIME_WAIT: a time-wait socket the tracer confirmed), and for a move into CLOSE why: closed, reset-received, reset-sent, refused, timeout, aborted, unknown.",
		[]string{"from", "to", "cause"}, nil)
	failedDesc = prometheus.NewDesc("sockstate_connections_failed_total",
		"TCP connections that failed: refused (a connect answered with an RST), timeout (the kernel gave up: SYNs, retransmissions or keepalives unanswered), reset (an RST received or sent).",
		[]string{"cause"}, nil)
	lostDesc = prometheus.NewDesc("sockstate_transitions_lost_total",
		"TCP state changes the tracer lost (its ring buffer was full, or the kernel did not run it), which the other counters miss.",
		nil, nil)
)

// The causes of sockstate_connections_failed_total.
const (
	causeRefused = "refused"
	causeTimeout = "timeout"
	causeReset   = "reset"
)

// failedCause returns the cause of sockstate_connections_failed_total of
// an end, "" for an end that is no failure.
func failedCause(c inspect.Cause) string {
	switch c {
	case inspect.CauseRefused:
		return causeRefused
	case inspect.CauseTimeout:
		return causeTimeout
	case inspect.CauseResetReceived, inspect.CauseResetSent:
		return causeReset
	}
	return ""
}

// durationBuckets are sockstate_state_duration_seconds's: 1 ms to about
// 70 minutes, by fours.
var durationBuckets = prometheus.ExponentialBuckets(0.001, 4, 12)

// transition is a key of sockstate_transitions_total.
type transition struct {
	from, to inspect.State
	cause    inspect.Cause
}

// Transitions counts the state changes a Watcher reports, as Prometheus
// counters, with the failed connections by the cause of their end, and
// how long sockets stayed in each state they left, as histograms. The sockets a Watcher first reports as new are the ones that
// were there when it started, not changes, and are not counted.
type Transitions struct {
	mu       sync.Mutex
	counts   map[transition]float64
	failed   map[string]float64
	lost     float64
	ready    chan struct{}
	duration *prometheus.HistogramVec
}

var _ prometheus.Collector = (*Transitions)(nil)

// NewTransitions returns Transitions with every counter at 0.
func NewTransitions() *Transitions {
	return &Transitions{
		counts: map[transition]float64{},
		failed: map[string]float64{causeRefused: 0, causeTimeout: 0, causeReset: 0},
		ready:  make(chan struct{}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sockstate_state_duration_seconds",
			Help:    "How long TCP sockets stayed in a state, by the state left: from the move into it (or, for a socket there when counting began, the first listing) to the move out.",
			Buckets: durationBuckets,
		}, []string{"state"}),
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
			if e.InState > 0 {
				t.duration.WithLabelValues(e.From.String()).Observe(e.InState.Seconds())
			}
			if e.To != inspect.Close {
				t.counts[transition{from: e.From, to: e.To}]++
				continue
			}
			t.counts[transition{from: e.From, to: e.To, cause: e.Cause}]++
			if c := failedCause(e.Cause); c != "" {
				t.failed[c]++
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
	t.duration.Describe(ch)
}

// Collect sends the counters: a transition once seen, each cause and the
// lost count always.
func (t *Transitions) Collect(ch chan<- prometheus.Metric) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, n := range t.counts {
		cause := ""
		if k.to == inspect.Close {
			cause = k.cause.String()
		}
		ch <- prometheus.MustNewConstMetric(transitionsDesc, prometheus.CounterValue, n, k.from.String(), k.to.String(), cause)
	}
	for cause, n := range t.failed {
		ch <- prometheus.MustNewConstMetric(failedDesc, prometheus.CounterValue, n, cause)
	}
	ch <- prometheus.MustNewConstMetric(lostDesc, prometheus.CounterValue, t.lost)
	t.duration.Collect(ch)
}
