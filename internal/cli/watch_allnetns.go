package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/allnetns"
	"github.com/sockstate/sockstate/inspect/owners"
	"github.com/sockstate/sockstate/inspect/sockdiag"
)

// newAllNetNSWatcher returns the watcher of every namespace of the host
// (watch --all-netns) that --source names, the namer of its events'
// namespaces, and the function that releases it: the tracer with no
// namespace filter (trace), a poller (netlink, proc), or for auto the
// tracer where it may load, with UDP polled (autoAllNetNS).
func newAllNetNSWatcher(source string, q inspect.Query, interval time.Duration, stderr io.Writer) (watcher, netnsNamer, func(), error) {
	switch source {
	case "trace":
		if len(q.Protocols) > 0 && !slices.Contains(q.Protocols, inspect.TCP) {
			return nil, nil, nil, usagef("watch: --source trace sees TCP sockets only")
		}
		ev, names, err := traceAllNetNS("watch", q, interval, stderr)
		if err != nil {
			return nil, nil, nil, err
		}
		return ev, names, func() { ev.Tracer.Close() }, nil
	case "auto":
		return autoAllNetNS(q, interval, stderr)
	}
	w, names, err := pollAllNetNS(source, q, interval, stderr)
	return w, names, func() {}, err
}

// pollAllNetNS returns a Watcher polling every namespace of the host with
// the source --source names (auto: sock_diag, else /proc), one poll per
// namespace, noticing namespaces that come and go. The kernel's destroy
// reports are per namespace and not subscribed to: it says so once, as
// sockets that live and die between two polls are missed. A namespace
// that cannot be entered is said once, when it is first found.
func pollAllNetNS(source string, q inspect.Query, interval time.Duration, stderr io.Writer) (*inspect.Watcher, foundNames, error) {
	if source == "auto" {
		source = "netlink"
		if err := sockdiag.Probe(0); sockdiag.NetlinkUnavailable(err) {
			fmt.Fprintf(stderr, "sockstate: sock_diag unavailable, reading /proc/net instead: %v\n", err)
			source = "proc"
		}
	}
	if _, err := newSource(source, stderr, 0); err != nil {
		return nil, foundNames{}, err
	}
	var mu sync.Mutex
	p := &allnetns.Poller{
		NewSource: func(fd int) inspect.Source {
			src, _ := newSource(source, stderr, fd)
			return src
		},
		Denied: func(ns *allnetns.Namespace, err error) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(stderr, "sockstate: watch --all-netns: %s cannot be entered and is not watched: %v\n", ns.Label(), err)
		},
	}
	fmt.Fprintln(stderr, "sockstate: watch --all-netns: no destroy reports (they come per namespace), so sockets that live and die between two polls are missed")
	w := &inspect.Watcher{Source: p, Query: q, Interval: interval}
	w.Interrupted = func(skipped int, err error) {
		if skipped == 1 {
			fmt.Fprintf(stderr, "sockstate: watch: %v; a poll whose dump is interrupted is skipped and the next shows its changes (watch stops after %d in a row)\n", err, inspect.MaxInterruptedPolls)
		}
	}
	return w, foundNames{p.Namespace}, nil
}

// foundNames names namespaces by what find finds of their inode: a
// Poller's last poll (a namespace gone since keeps its inode), or an
// Index, which looks again for one it does not know.
type foundNames struct {
	find func(inode uint64) (allnetns.Namespace, bool)
}

func (n foundNames) label(inode uint64) string {
	if ns, ok := n.find(inode); ok {
		return ns.Label()
	}
	return "net:[" + strconv.FormatUint(inode, 10) + "]"
}

func (n foundNames) jsonOf(inode uint64) jsonNetNS {
	ns, ok := n.find(inode)
	if !ok {
		return jsonNetNS{Inode: inode}
	}
	return newJSONNetNS(&ns)
}

// netnsEvents writes watch's JSON events with their namespace, "netns".
// Everything else goes to the output it wraps. (A text line takes its
// label from the view, which fits it to the terminal.)
type netnsEvents struct {
	output
	w       io.Writer
	ssNames bool
	names   netnsNamer
	enc     *json.Encoder
}

func (o *netnsEvents) event(e *inspect.WatchEvent, procs []owners.Process) error {
	if e.Kind == inspect.EventLost || e.Kind == inspect.EventUnmatched {
		return o.output.event(e, procs)
	}
	if o.enc == nil {
		o.enc = json.NewEncoder(o.w)
	}
	return o.enc.Encode(struct {
		jsonEvent
		NetNS jsonNetNS `json:"netns"`
	}{newJSONEvent(e, o.ssNames, procs), o.names.jsonOf(e.Socket.NetNS)})
}
