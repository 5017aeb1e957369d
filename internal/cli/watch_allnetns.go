package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/allnetns"
	"github.com/sockstate/sockstate/inspect/sockdiag"
)

// newAllNetNSWatcher returns a Watcher polling every namespace of the host
// (watch --all-netns) with the source --source names, one poll per
// namespace, noticing namespaces that come and go. The kernel's destroy
// reports are per namespace and not subscribed to: it says so once, as
// sockets that live and die between two polls are missed. A namespace
// that cannot be entered is said once, when it is first found.
func newAllNetNSWatcher(source string, q inspect.Query, interval time.Duration, stderr io.Writer) (*inspect.Watcher, *allNetNSNames, error) {
	switch source {
	case "trace":
		return nil, nil, usagef("watch: --all-netns polls sock_diag; --source trace follows one namespace")
	case "auto":
		source = "netlink"
		if err := sockdiag.Probe(0); sockdiag.NetlinkUnavailable(err) {
			fmt.Fprintf(stderr, "sockstate: sock_diag unavailable, reading /proc/net instead: %v\n", err)
			source = "proc"
		}
	}
	if _, err := newSource(source, stderr, 0); err != nil {
		return nil, nil, err
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
	return w, &allNetNSNames{p: p}, nil
}

// allNetNSNames names the namespaces of a Poller's last poll; a
// namespace gone since keeps its inode.
type allNetNSNames struct{ p *allnetns.Poller }

func (n *allNetNSNames) label(inode uint64) string {
	if ns, ok := n.p.Namespace(inode); ok {
		return ns.Label()
	}
	return "net:[" + strconv.FormatUint(inode, 10) + "]"
}

func (n *allNetNSNames) nameOf(inode uint64) string {
	ns, _ := n.p.Namespace(inode)
	return ns.Name
}

// netnsEvents writes watch events with their namespace: a text line
// starts with its label, a JSON object has "netns". Everything else goes
// to the output it wraps.
type netnsEvents struct {
	output
	w       io.Writer
	json    bool
	ssNames bool
	names   netnsNamer
	enc     *json.Encoder
}

func (o *netnsEvents) event(e *inspect.WatchEvent) error {
	if e.Kind == inspect.EventLost || e.Kind == inspect.EventUnmatched {
		return o.output.event(e)
	}
	if o.json {
		if o.enc == nil {
			o.enc = json.NewEncoder(o.w)
		}
		ino := e.Socket.NetNS
		return o.enc.Encode(struct {
			jsonEvent
			NetNS jsonNetNS `json:"netns"`
		}{newJSONEvent(e, o.ssNames), jsonNetNS{Inode: ino, Name: o.names.nameOf(ino)}})
	}
	if _, err := io.WriteString(o.w, o.names.label(e.Socket.NetNS)+" "); err != nil {
		return err
	}
	return o.output.event(e)
}
