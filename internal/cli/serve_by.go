package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/allnetns"
	"github.com/sockstate/sockstate/inspect/cgroups"
	"github.com/sockstate/sockstate/inspect/exporter"
	"github.com/sockstate/sockstate/inspect/procsrc"
	"github.com/sockstate/sockstate/inspect/sockdiag"
	"github.com/sockstate/sockstate/netns"
)

// serveAllNetNS lists every network namespace of the host for serve
// --all-netns. Unlike ls's, it finds the namespaces again at each listing,
// as a server outlives namespaces and sees new ones made.
type serveAllNetNS struct {
	proc   bool // read /proc/net rather than sock_diag
	stderr io.Writer

	mu sync.Mutex
	// labels names each namespace seen by inode; a namespace keeps its
	// label after it is gone, so that a collection names it.
	labels map[uint64]string
	// denied is said once.
	denied bool
}

var _ inspect.Streamer = (*serveAllNetNS)(nil)

// newServeAllNetNS chooses the source once for every namespace: sock_diag
// if the server's namespace has it (or --source netlink), else /proc.
func newServeAllNetNS(source string, stderr io.Writer) *serveAllNetNS {
	proc := source == "proc"
	if source == "auto" {
		if err := sockdiag.Probe(0); sockdiag.NetlinkUnavailable(err) {
			fmt.Fprintf(stderr, "sockstate: sock_diag unavailable, reading /proc/net instead: %v\n", err)
			proc = true
		}
	}
	return &serveAllNetNS{proc: proc, stderr: stderr, labels: map[uint64]string{}}
}

func (s *serveAllNetNS) source(fd int) inspect.Source {
	if s.proc {
		return &procsrc.Source{NetNS: fd}
	}
	return &sockdiag.Source{NetNS: fd}
}

func (s *serveAllNetNS) Sockets(ctx context.Context, q inspect.Query) ([]inspect.Socket, error) {
	var out []inspect.Socket
	err := s.Each(ctx, q, func(batch []inspect.Socket) error {
		out = append(out, cloneSockets(batch)...)
		return nil
	})
	return out, err
}

// Each finds the namespaces and hands fn the sockets of each, a batch at a
// time. Namespaces that may not be entered are said once on stderr.
func (s *serveAllNetNS) Each(ctx context.Context, q inspect.Query, fn func([]inspect.Socket) error) error {
	found, err := allnetns.Discover("/proc")
	if err != nil {
		return fmt.Errorf("serve: --all-netns: %w", err)
	}
	s.mu.Lock()
	for i := range found.Namespaces {
		ns := &found.Namespaces[i]
		s.labels[ns.Inode] = ns.Label()
	}
	s.mu.Unlock()
	st, err := allnetns.Each(ctx, found.Namespaces, q, s.source, func(_ *allnetns.Namespace, batch []inspect.Socket) error {
		return fn(batch)
	})
	if st.Denied > 0 && !s.denied {
		s.denied = true
		fmt.Fprintf(s.stderr, "sockstate: serve: --all-netns: %s not be entered and %s not counted: %v\n",
			plural(st.Denied, "network namespace could", "network namespaces could"), plural(st.Denied, "its sockets are", "their sockets are"), st.DeniedErr)
	}
	return err
}

// eachNetNS runs fn on a thread in each network namespace of the host, for
// its kernel counters. Namespaces that are gone or may not be entered are
// skipped: the listing says so once.
func (s *serveAllNetNS) eachNetNS(fn func(inode uint64) error) error {
	found, err := allnetns.Discover("/proc")
	if err != nil {
		return fmt.Errorf("serve: --all-netns: %w", err)
	}
	for i := range found.Namespaces {
		ns := &found.Namespaces[i]
		err := allnetns.InNamespace(ns, func(fd int) error {
			if fd == 0 {
				return fn(ns.Inode)
			}
			return netns.Do(fd, func() error { return fn(ns.Inode) })
		})
		if err != nil && !allnetns.Vanished(err) && !allnetns.Denied(err) {
			return err
		}
	}
	return nil
}

// label names the namespace of inode: its name under /run/netns, or
// net:[INODE].
func (s *serveAllNetNS) label(inode uint64) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.labels[inode]; ok {
		return l
	}
	return "net:[" + strconv.FormatUint(inode, 10) + "]"
}

// serveGrouping returns the grouping --by names; all is the --all-netns
// source, nil without it.
func serveGrouping(by string, all *serveAllNetNS, source string) (*exporter.Grouping, error) {
	switch by {
	case "":
		return nil, nil
	case "netns":
		if all == nil {
			return nil, usagef("serve: --by netns needs --all-netns: without it every socket is of one namespace")
		}
		return &exporter.Grouping{Label: "netns", Key: func(s *inspect.Socket) uint64 { return s.NetNS }, Name: all.label, NetNS: true}, nil
	case "cgroup", "container":
		if source == "proc" {
			return nil, usagef("serve: --by %s: /proc/net has no cgroups; use --source netlink", by)
		}
		p, err := cgroups.NewPaths()
		if err != nil {
			return nil, fmt.Errorf("serve: --by %s: %w", by, err)
		}
		names := &cgroupNames{pathOf: p.Path, byID: map[uint64]containerName{}}
		g := &exporter.Grouping{Label: by, Key: func(s *inspect.Socket) uint64 { return s.CgroupID }, Cgroup: true}
		g.Name = func(id uint64) string {
			if id == 0 {
				// TIME_WAIT and request sockets carry no cgroup.
				return "none"
			}
			if by == "cgroup" {
				return names.path(id)
			}
			if n := names.container(id); n.ok {
				return n.text
			}
			return "none"
		}
		return g, nil
	}
	return nil, usagef("serve: --by %q: use netns, cgroup or container", by)
}
