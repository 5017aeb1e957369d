package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/sockstate/sockstate/inspect"
)

// autoEvents returns watch's events for --source auto, and says on the
// first line of stderr which source it uses and why: TCP from the tracer
// when it may load it, UDP (and TCP where tracing is refused) by polling
// with the kernel's reports of freed sockets. The function returned
// releases what it holds.
func autoEvents(q inspect.Query, interval time.Duration, nsFD int, stderr io.Writer) (watcher, func(), error) {
	protos := q.ProtocolsOrDefault()
	tcp := slices.Contains(protos, inspect.TCP)
	var traced watcher
	release := func() {}
	why := "the tracer sees TCP only"
	if tcp {
		tq := q
		tq.Protocols, tq.UnixTypes = []inspect.Protocol{inspect.TCP}, nil
		ev, err := openTrace(tq, interval, nsFD)
		if err != nil {
			why = "no tracing: " + err.Error()
		} else {
			traced, release = ev, func() { ev.Tracer.Close() }
			if len(protos) == 1 && len(q.UnixTypes) == 0 {
				fmt.Fprintln(stderr, "sockstate: watch: TCP from the kernel's tracepoints (eBPF), with causes")
				return traced, release, nil
			}
			q.Protocols = slices.DeleteFunc(slices.Clone(protos), func(p inspect.Protocol) bool { return p == inspect.TCP })
		}
	}
	// newWatcher's own lines (a source or the destroy reports refused)
	// follow the line that says what is polled.
	var detail bytes.Buffer
	pw, releasePolls, err := newWatcher("auto", q, interval, nsFD, &detail)
	if err != nil {
		release()
		return nil, nil, err
	}
	how := fmt.Sprintf("%s polled every %v", kindNames(&q, false), interval)
	if pw.Destroyed != nil {
		how += " with the kernel's reports of freed sockets"
	}
	if traced != nil {
		fmt.Fprintf(stderr, "sockstate: watch: TCP from the kernel's tracepoints (eBPF); %s (%s)\n", how, why)
	} else {
		fmt.Fprintf(stderr, "sockstate: watch: %s (%s)\n", how, why)
	}
	stderr.Write(detail.Bytes())
	if traced == nil {
		return pw, releasePolls, nil
	}
	return &mergedWatcher{ws: []watcher{traced, pw}}, func() { release(); releasePolls() }, nil
}

// mergedWatcher runs watchers side by side and hands their batches to one
// fn, one batch at a time.
type mergedWatcher struct {
	ws []watcher
}

// Watch runs every watcher until ctx ends or one fails, and returns the
// first error.
func (m *mergedWatcher) Watch(ctx context.Context, fn func([]inspect.WatchEvent) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	errs := make(chan error, len(m.ws))
	for _, w := range m.ws {
		go func() {
			errs <- w.Watch(ctx, func(batch []inspect.WatchEvent) error {
				mu.Lock()
				defer mu.Unlock()
				return fn(batch)
			})
		}()
	}
	var first error
	for range m.ws {
		if err := <-errs; err != nil && first == nil {
			first = err
			cancel()
		}
	}
	return first
}
