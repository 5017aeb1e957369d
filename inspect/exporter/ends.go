package exporter

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/netns"
	"github.com/sockstate/sockstate/procnet"
)

// InfoDestroySource reports sockets as the kernel frees them, each TCP one
// with its tcp_info: sockdiag.DestroySubscription's DestroyedInfo.
type InfoDestroySource interface {
	DestroyedInfo(ctx context.Context, fn func(*inspect.Socket)) error
}

var reportsLostDesc = prometheus.NewDesc("sockstate_destroy_reports_lost_total",
	"Reports of freed sockets the kernel dropped (its socket buffer was full), whose refused or timed-out connects sockstate_connections_failed_total misses.",
	nil, nil)

// Ends counts failed TCP connections where the tracer cannot load, from
// what the kernel reports without it: a refused or timed-out connect from
// the report of its freed socket, which never completed a handshake
// (inspect.ConnectCause: no TCP option agreed, no byte acknowledged):
// refused when a segment (the RST) came back, timeout when none did and
// its SYN was retransmitted;
// resets from the namespace's Tcp EstabResets (/proc/net/snmp, RFC 1213's
// tcpEstabResets: moves from ESTABLISHED or CLOSE_WAIT into CLOSE) since
// the counting began. A connect abandoned (closed) after its SYN was
// retransmitted counts as timed out, as the kernel's report cannot tell
// it from one the kernel gave up.
type Ends struct {
	nsFD int

	mu               sync.Mutex
	refused, timeout float64
	lost             float64
	resetsAtStart    int64
}

var _ prometheus.Collector = (*Ends)(nil)

// NewEnds reads the namespace open at nsFD's (0: the caller's) resets so
// far, from which it counts.
func NewEnds(nsFD int) (*Ends, error) {
	e := &Ends{nsFD: nsFD}
	n, err := e.resets()
	if err != nil {
		return nil, err
	}
	e.resetsAtStart = n
	return e, nil
}

// resets reads the namespace's Tcp EstabResets.
func (e *Ends) resets() (int64, error) {
	var n int64
	read := func() error {
		snmp, err := procnet.NewFS("/proc/thread-self").ReadSNMP()
		if err != nil {
			return err
		}
		v, ok := snmp.Get("Tcp", "EstabResets")
		if !ok {
			return errors.New("exporter: /proc/net/snmp has no Tcp EstabResets")
		}
		n = v
		return nil
	}
	if e.nsFD == 0 {
		return n, read()
	}
	return n, netns.Do(e.nsFD, read)
}

// Run counts the refused and timed-out connects d reports until ctx ends
// or d fails, and returns d's error. Reports the kernel dropped are
// counted in sockstate_destroy_reports_lost_total.
func (e *Ends) Run(ctx context.Context, d InfoDestroySource) error {
	for {
		err := d.DestroyedInfo(ctx, e.add)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, unix.ENOBUFS):
			e.mu.Lock()
			// An unknown count is at least one.
			e.lost++
			e.mu.Unlock()
		case err != nil:
			return err
		}
	}
}

func (e *Ends) add(s *inspect.Socket) {
	cause := inspect.ConnectCause(s)
	e.mu.Lock()
	defer e.mu.Unlock()
	switch cause {
	case inspect.CauseRefused:
		e.refused++
	case inspect.CauseTimeout:
		e.timeout++
	}
}

// Describe sends the descriptions of the counters.
func (e *Ends) Describe(ch chan<- *prometheus.Desc) {
	ch <- failedDesc
	ch <- reportsLostDesc
}

// Collect sends the counters; reset is left out when the namespace's
// counter cannot be read.
func (e *Ends) Collect(ch chan<- prometheus.Metric) {
	resets, err := e.resets()
	e.mu.Lock()
	defer e.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(failedDesc, prometheus.CounterValue, e.refused, causeRefused)
	ch <- prometheus.MustNewConstMetric(failedDesc, prometheus.CounterValue, e.timeout, causeTimeout)
	if err == nil {
		ch <- prometheus.MustNewConstMetric(failedDesc, prometheus.CounterValue, float64(resets-e.resetsAtStart), causeReset)
	} else {
		ch <- prometheus.NewInvalidMetric(failedDesc, fmt.Errorf("exporter: resets: %w", err))
	}
	ch <- prometheus.MustNewConstMetric(reportsLostDesc, prometheus.CounterValue, e.lost)
}
