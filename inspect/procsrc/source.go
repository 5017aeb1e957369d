package procsrc

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/sockstate/sockstate/inspect"

	"github.com/sockstate/sockstate/netns"
	"github.com/sockstate/sockstate/procnet"
)

// userHZ is the unit of /proc/net's tm->when column: clock ticks of
// USER_HZ, which is 100 on every Linux architecture sockstate supports.
const userHZ = 100

// Source lists sockets from /proc/net/{tcp,tcp6,udp,udp6}. It reports
// the same sockets as the netlink source but has no cookies, and a
// listener's Send-Q is 0 where sock_diag gives the backlog limit.
type Source struct {
	// Root is the directory holding net/tcp and its siblings. The default,
	// /proc/thread-self, follows the reading thread's network namespace
	// (/proc/net follows the main thread's); "/proc/<pid>" reads another
	// process's namespace, and a test can point it at captured files.
	Root string
	// NetNS is a network namespace file descriptor whose tables to read,
	// from a thread switched into it; 0 means the caller's own namespace.
	NetNS int
}

var _ inspect.Source = (*Source)(nil)

// Sockets reads the tables q selects and keeps the sockets whose state is in
// q.States, each once (dropRepeats).
func (s *Source) Sockets(ctx context.Context, q inspect.Query) ([]inspect.Socket, error) {
	return s.read(ctx, q, s.fs(), nil, &inspect.Sightings{})
}

// fs returns the tables under s.Root.
func (s *Source) fs() procnet.FS {
	root := s.Root
	if root == "" {
		root = "/proc/thread-self"
	}
	return procnet.NewFS(root)
}

// tables reads /proc/net's socket tables: a procnet.FS, or a
// *procnet.Reader that keeps its buffers.
type tables interface {
	Read(procnet.File) ([]procnet.Record, error)
	ReadUnix() ([]procnet.UnixRecord, error)
}

// read reads the tables q selects from t as Sockets does, appending the
// sockets to dst[:0] and dropping repeats with seen.
func (s *Source) read(ctx context.Context, q inspect.Query, t tables, dst []inspect.Socket, seen *inspect.Sightings) ([]inspect.Socket, error) {
	if s.NetNS == 0 {
		return readProc(ctx, t, q, dst, seen)
	}
	var out []inspect.Socket
	err := netns.Do(s.NetNS, func() error {
		var err error
		out, err = readProc(ctx, t, q, dst, seen)
		return err
	})
	return out, err
}

func readProc(ctx context.Context, t tables, q inspect.Query, dst []inspect.Socket, seen *inspect.Sightings) ([]inspect.Socket, error) {
	out := dst[:0]
	if len(q.UnixTypes) > 0 {
		var err error
		if out, err = readUnix(t, q, out); err != nil {
			return out, err
		}
	}
	for _, p := range q.ProtocolsOrDefault() {
		if p == inspect.MPTCP && q.EveryKind {
			continue // only sock_diag lists MPTCP sockets
		}
		if p != inspect.TCP && p != inspect.UDP && p != inspect.Raw {
			return out, fmt.Errorf("inspect: /proc/net has no table of %s sockets; sock_diag lists them", p)
		}
		for _, f := range q.FamiliesOrDefault() {
			if f == inspect.Unix {
				continue
			}
			if err := ctx.Err(); err != nil {
				return out, err
			}
			file := procFile(p, f)
			recs, err := t.Read(file)
			if err != nil {
				return out, fmt.Errorf("inspect: %w", err)
			}
			out = slices.Grow(out, len(recs))
			for i := range recs {
				if !q.States.Has(inspect.State(recs[i].State)) {
					continue
				}
				// Matched in place: Match's pointer escapes through the
				// Filter interface, and a socket of its own would be an
				// allocation per row.
				out = append(out, socketFromRecord(p, f, &recs[i]))
				if q.Filter != nil && !q.Filter.Match(&out[len(out)-1]) {
					out = out[:len(out)-1]
				}
			}
		}
	}
	return inspect.DropRepeats(out, seen), nil
}

func procFile(p inspect.Protocol, f inspect.Family) procnet.File {
	switch {
	case p == inspect.Raw && f == inspect.INet:
		return procnet.Raw
	case p == inspect.Raw:
		return procnet.Raw6
	case p == inspect.TCP && f == inspect.INet:
		return procnet.TCP
	case p == inspect.TCP:
		return procnet.TCP6
	case f == inspect.INet:
		return procnet.UDP
	}
	return procnet.UDP6
}

func socketFromRecord(p inspect.Protocol, f inspect.Family, r *procnet.Record) inspect.Socket {
	// sock_diag's idiag_retrans counts retransmissions for the retransmit
	// timer and unanswered probes (icsk_probes_out) for the others; /proc
	// prints the two in the retrnsmt and timeout columns.
	retrans := r.Retransmits
	if inspect.Timer(r.Timer) != inspect.TimerOn {
		retrans = r.Timeout
	}
	return inspect.Socket{
		Protocol:    p,
		Family:      f,
		State:       inspect.State(r.State),
		Local:       r.Local,
		Peer:        r.Remote,
		RecvQ:       r.RxQueue,
		SendQ:       r.TxQueue,
		UID:         r.UID,
		Inode:       r.Inode,
		Timer:       inspect.Timer(r.Timer),
		Expires:     time.Duration(r.TimerExpires) * time.Second / userHZ,
		Retransmits: uint8(min(retrans, 255)),
	}
}
