package cli

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/allnetns"
	"github.com/sockstate/sockstate/inspect/sockdiag"
	"github.com/sockstate/sockstate/inspect/trace"
)

// traceAllNetNS returns trace events of every namespace of the host for q
// (TCP only), for command cmd (watch, serve): the tracer without its namespace filter, its lookups in
// each socket's namespace, and sock_diag dumps of every namespace for the
// first report and after a loss. Events are labelled by the namespace
// each socket is in, named as ls --all-netns names it. A namespace that
// cannot be entered is said once on stderr, by the dumps or the lookups.
func traceAllNetNS(cmd string, q inspect.Query, idle time.Duration, stderr io.Writer) (*trace.Events, foundNames, error) {
	says := &onceLines{w: stderr, said: map[string]bool{}}
	idx := &allnetns.Index{}
	t, err := trace.Open(&trace.Options{
		AllNetNS:  true,
		OpenNetNS: idx.Open,
		Unreachable: func(inode uint64, err error) {
			says.say(fmt.Sprintf("sockstate: %s --all-netns: net:[%d] cannot be entered, so its sockets' moves into TIME_WAIT are not reported: %v\n", cmd, inode, err))
		},
	})
	if err != nil {
		return nil, foundNames{}, err
	}
	p := &allnetns.Poller{
		NewSource: func(fd int) inspect.Source { return &sockdiag.Source{NetNS: fd} },
		Denied: func(ns *allnetns.Namespace, err error) {
			says.say(fmt.Sprintf("sockstate: %s --all-netns: %s cannot be entered and is not listed: %v\n", cmd, ns.Label(), err))
		},
	}
	return &trace.Events{Tracer: t, Source: p, Query: q, Idle: idle}, foundNames{idx.Namespace}, nil
}

// autoAllNetNS is watch --all-netns --source auto: TCP from the tracer of
// every namespace where it may load it, UDP (and TCP where tracing is
// refused) polled in every namespace, as autoEvents does for one. It says
// on the first line of stderr which it uses and why.
func autoAllNetNS(q inspect.Query, interval time.Duration, stderr io.Writer) (watcher, netnsNamer, func(), error) {
	tcp := len(q.Protocols) == 0 || slices.Contains(q.Protocols, inspect.TCP)
	udp := len(q.Protocols) == 0 || slices.Contains(q.Protocols, inspect.UDP)
	why := "the tracer sees TCP only"
	var traced *trace.Events
	var names foundNames
	if tcp {
		tq := q
		tq.Protocols = []inspect.Protocol{inspect.TCP}
		ev, n, err := traceAllNetNS("watch", tq, interval, stderr)
		if err != nil {
			why = "no tracing: " + err.Error()
		} else {
			traced, names = ev, n
			if !udp {
				fmt.Fprintln(stderr, "sockstate: watch: TCP from the kernel's tracepoints (eBPF) in every namespace, with causes")
				return traced, names, func() { ev.Tracer.Close() }, nil
			}
			q.Protocols = []inspect.Protocol{inspect.UDP}
		}
	}
	// The poller's own lines follow the line that says what is polled.
	var detail bytes.Buffer
	pw, polled, err := pollAllNetNS("auto", q, interval, &detail)
	if err != nil {
		if traced != nil {
			traced.Tracer.Close()
		}
		return nil, nil, nil, err
	}
	if traced == nil {
		fmt.Fprintf(stderr, "sockstate: watch: every namespace polled every %v (%s)\n", interval, why)
		stderr.Write(detail.Bytes())
		return pw, polled, func() {}, nil
	}
	fmt.Fprintf(stderr, "sockstate: watch: TCP from the kernel's tracepoints (eBPF) in every namespace; UDP polled every %v (%s)\n", interval, why)
	stderr.Write(detail.Bytes())
	return &mergedWatcher{ws: []watcher{traced, pw}}, names, func() { traced.Tracer.Close() }, nil
}

// onceLines writes each line once, from any goroutine.
type onceLines struct {
	mu   sync.Mutex
	w    io.Writer
	said map[string]bool
}

func (o *onceLines) say(line string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.said[line] {
		o.said[line] = true
		io.WriteString(o.w, line)
	}
}
