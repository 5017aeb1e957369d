package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/allnetns"
	"github.com/sockstate/sockstate/inspect/procsrc"
	"github.com/sockstate/sockstate/inspect/sockdiag"
)

// allNetNSSource lists every network namespace of the host (ls
// --all-netns): each with the source --source names, opened in it.
type allNetNSSource struct {
	name   string // --source
	stderr io.Writer
	found  allnetns.Found
	// labels names each namespace by inode, for the Netns column, and
	// byInode holds each namespace found.
	labels  map[uint64]string
	byInode map[uint64]*allnetns.Namespace
	stats   allnetns.Stats
}

var _ inspect.Streamer = (*allNetNSSource)(nil)

// newAllNetNSSource finds the host's namespaces.
//
// The automatic source chooses once for every namespace: sock_diag if the
// caller's namespace has it, else /proc, saying so once.
func newAllNetNSSource(name string, stderr io.Writer) (*allNetNSSource, error) {
	if _, err := newSource(name, stderr, 0); err != nil {
		return nil, err
	}
	if name == "auto" {
		name = "netlink"
		if err := sockdiag.Probe(0); sockdiag.NetlinkUnavailable(err) {
			fmt.Fprintf(stderr, "sockstate: sock_diag unavailable, reading /proc/net instead: %v\n", err)
			name = "proc"
		}
	}
	found, err := allnetns.Discover("/proc")
	if err != nil {
		return nil, fmt.Errorf("ls: --all-netns: %w", err)
	}
	s := &allNetNSSource{name: name, stderr: stderr, found: found, labels: map[uint64]string{}, byInode: map[uint64]*allnetns.Namespace{}}
	for i := range found.Namespaces {
		ns := &found.Namespaces[i]
		s.labels[ns.Inode] = ns.Label()
		s.byInode[ns.Inode] = ns
	}
	return s, nil
}

// source returns the source of the namespace open at fd. newSource
// rejected a bad name already.
func (s *allNetNSSource) source(fd int) inspect.Source {
	src, _ := newSource(s.name, s.stderr, fd)
	return src
}

func (s *allNetNSSource) Sockets(ctx context.Context, q inspect.Query) ([]inspect.Socket, error) {
	var out []inspect.Socket
	err := s.Each(ctx, q, func(batch []inspect.Socket) error {
		out = append(out, cloneSockets(batch)...)
		return nil
	})
	return out, err
}

// Each hands fn the namespaces' sockets in batches. The small batches of
// small namespaces are gathered, copied, into batches of up to
// sockdiag.BatchSize, so that a table's columns, aligned batch by batch,
// line up across them; a large batch goes as it is.
func (s *allNetNSSource) Each(ctx context.Context, q inspect.Query, fn func([]inspect.Socket) error) error {
	var buf []inspect.Socket
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		err := fn(buf)
		buf = buf[:0]
		return err
	}
	var err error
	s.stats, err = allnetns.Each(ctx, s.found.Namespaces, q, s.source, func(_ *allnetns.Namespace, batch []inspect.Socket) error {
		if len(batch) >= sockdiag.BatchSize/4 {
			if err := flush(); err != nil {
				return err
			}
			return fn(batch)
		}
		if len(buf)+len(batch) > sockdiag.BatchSize {
			if err := flush(); err != nil {
				return err
			}
		}
		buf = append(buf, cloneSockets(batch)...)
		return nil
	})
	if ferr := flush(); err == nil {
		err = ferr
	}
	return err
}

// label returns the Netns column's text for the namespace of inode.
func (s *allNetNSSource) label(inode uint64) string {
	if l, ok := s.labels[inode]; ok {
		return l
	}
	return "net:[" + strconv.FormatUint(inode, 10) + "]"
}

// jsonOf returns the namespace's "netns" in JSON.
func (s *allNetNSSource) jsonOf(inode uint64) jsonNetNS {
	if ns, ok := s.byInode[inode]; ok {
		return newJSONNetNS(ns)
	}
	return jsonNetNS{Inode: inode}
}

// report prints, in one line, the namespaces that could not be seen:
// those that could not be entered and the processes whose namespace
// could not be read. Namespaces gone before they were entered are not
// missed: they had no sockets left to list.
func (s *allNetNSSource) report(w io.Writer) {
	var parts []string
	if n := s.stats.Denied; n > 0 {
		parts = append(parts, plural(n, "network namespace could", "network namespaces could")+" not be entered")
	}
	if n := s.found.Unreadable; n > 0 {
		parts = append(parts, plural(n, "process's network namespace", "processes' network namespaces")+" could not be read")
	}
	if len(parts) == 0 {
		return
	}
	hint := "run as root to see them"
	if os.Geteuid() == 0 {
		hint = "the kernel denies them even to root"
	}
	line := "sockstate: --all-netns: " + strings.Join(parts, ", and ") + " (" + hint + ")"
	if err := s.stats.DeniedErr; err != nil {
		line += ": " + err.Error()
	}
	fmt.Fprintln(w, line)
}

// plural returns n and one or many, as n says.
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// writeSummaries writes ls -s --all-netns: each namespace's summary under
// a line naming it, then the total.
func (s *allNetNSSource) writeSummaries(ctx context.Context, w io.Writer, json bool) error {
	var sums []procsrc.Summary
	var names []*allnetns.Namespace
	for i := range s.found.Namespaces {
		ns := &s.found.Namespaces[i]
		var sum procsrc.Summary
		err := allnetns.InNamespace(ns, func(fd int) error {
			var err error
			sum, err = procsrc.ReadSummary(ctx, s.source(fd), fd)
			return err
		})
		if err == nil {
			sums = append(sums, sum)
			names = append(names, ns)
		}
		if err := s.stats.Count(err); err != nil {
			return err
		}
	}
	total := procsrc.Sum(sums)
	if json {
		return writeSummariesJSON(w, names, sums, &total)
	}
	for i := range sums {
		if _, err := fmt.Fprintf(w, "Netns: %s\n", names[i].Label()); err != nil {
			return err
		}
		if err := writeSummary(w, &sums[i]); err != nil {
			return err
		}
	}
	if _, err := fmt.Fprintf(w, "Netns: all %d\n", len(sums)); err != nil {
		return err
	}
	return writeSummary(w, &total)
}

// writeSummariesJSON writes ls -s -j --all-netns: one object with each
// namespace's summary and the total.
func writeSummariesJSON(w io.Writer, names []*allnetns.Namespace, sums []procsrc.Summary, total *procsrc.Summary) error {
	type perNS struct {
		NetNS   jsonNetNS `json:"netns"`
		Summary any       `json:"summary"`
	}
	v := struct {
		Namespaces []perNS `json:"namespaces"`
		Total      any     `json:"total"`
	}{Namespaces: []perNS{}, Total: newJSONSummary(total)}
	for i := range sums {
		v.Namespaces = append(v.Namespaces, perNS{newJSONNetNS(names[i]), newJSONSummary(&sums[i])})
	}
	if err := json.NewEncoder(w).Encode(v); err != nil {
		return fmt.Errorf("json: %w", err)
	}
	return nil
}

// jsonNetNS is a socket's "netns" in JSON: the namespace's inode, its
// name under /run/netns and the container whose processes hold it, each
// if it has one.
type jsonNetNS struct {
	Inode     uint64 `json:"inode"`
	Name      string `json:"name,omitempty"`
	Container string `json:"container,omitempty"`
}

func newJSONNetNS(ns *allnetns.Namespace) jsonNetNS {
	return jsonNetNS{Inode: ns.Inode, Name: ns.Name, Container: ns.Container}
}

// netnsNamer names the namespaces of a listing of several.
type netnsNamer interface {
	// label is the Netns column's text.
	label(inode uint64) string
	// jsonOf is the namespace's "netns" in JSON.
	jsonOf(inode uint64) jsonNetNS
}

var _ netnsNamer = (*allNetNSSource)(nil)

// appendJSONNetNS appends ,"netns":{...} as json.Encoder writes a
// jsonNetNS.
func appendJSONNetNS(b []byte, ns jsonNetNS) []byte {
	b = append(b, `,"netns":{"inode":`...)
	b = strconv.AppendUint(b, ns.Inode, 10)
	if ns.Name != "" {
		b = append(b, `,"name":`...)
		b = appendJSONString(b, ns.Name)
	}
	if ns.Container != "" {
		b = append(b, `,"container":`...)
		b = appendJSONString(b, ns.Container)
	}
	return append(b, '}')
}
