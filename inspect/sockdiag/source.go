package sockdiag

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/procsrc"

	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/netlinkdiag"
)

// Source lists sockets with sock_diag (NETLINK_SOCK_DIAG). The kernel
// applies the state mask, so unwanted sockets never cross into userspace.
type Source struct {
	// NetNS is a network namespace file descriptor to query; 0 means the
	// caller's own namespace.
	NetNS int

	// Dial opens the sock_diag socket; nil means netlinkdiag.Dial. Tests
	// count or script the connections with it.
	Dial func(*netlinkdiag.Config) (DiagConn, error)
}

var _ inspect.Source = (*Source)(nil)

// DiagConn is what a Source needs of a *netlinkdiag.Conn.
type DiagConn interface {
	DumpOnce(ctx context.Context, req netlinkdiag.Request, fn func(*netlinkdiag.Msg) error) error
	Close() error
}

// maxDumpAttempts bounds how often Sockets dumps a table whose dump the
// kernel keeps interrupting.
const maxDumpAttempts = 3

// Sockets dumps the sockets q selects, unix before UDP before TCP and IPv4
// before IPv6, the order ss prints them in.
//
// TCP sockets of both families come from one dump (netlinkdiag's Family
// 0), which walks the kernel's tables once instead of once per family,
// when the filter compiles to the same bytecode for both; the IPv6 ones
// are held back until the IPv4 ones are out, keeping the kernel's order
// within each family. Each socket is listed once (dropRepeats).
//
// A table whose dump the kernel interrupts (NLM_F_DUMP_INTR: the table
// changed during the walk) is dumped again, up to 3 times in all. If every
// attempt is interrupted, Sockets keeps the last attempt's sockets, goes on
// with the other tables, and returns all it has with an error wrapping
// netlinkdiag.ErrDumpInterrupted that is also ErrIncomplete.
func (s *Source) Sockets(ctx context.Context, q inspect.Query) ([]inspect.Socket, error) {
	k := newSink(q, nil, 0)
	k.out = make([]inspect.Socket, 0, procsrc.SizeHint(s.NetNS, &q))
	err := s.run(ctx, q, k, nil)
	return inspect.DropRepeats(k.out, &inspect.Sightings{}), err
}

var _ inspect.Streamer = (*Source)(nil)

// Each lists what Sockets lists, in the same order, handing the sockets to
// fn in batches of at most BatchSize as they arrive, and stops at fn's first
// error, which it returns. A batch, and the TCPInfo and Memory its sockets
// point to, are reused once fn returns: fn copies what it keeps. So a
// listing of any size holds one batch, and fn's work, done on another
// goroutine than the one receiving from the kernel, overlaps the kernel's.
//
// Each socket is handed over once. What is handed over cannot be taken
// back, so where Sockets drops an interrupted attempt's sockets, Each
// hands over those of the next attempt that it has not handed over yet.
func (s *Source) Each(ctx context.Context, q inspect.Query, fn func([]inspect.Socket) error) error {
	// The namespace's counters size the listing's Sightings only when it
	// lists every socket: a hash table is written all over, so room for
	// 100,000 sockets costs its every page even when a filter keeps 5,000.
	// They also prove a UDP table empty, whose dump would walk every
	// slot of the kernel's hash table for nothing.
	n := 0
	var counts procsrc.Sockstat
	if hint := q.Filter == nil && q.States == inspect.AllStates; hint || slices.Contains(q.ProtocolsOrDefault(), inspect.UDP) {
		counts = procsrc.ReadSockstat(s.NetNS)
		if hint {
			n = counts.SizeHint(&q)
		}
	}
	k := newSink(q, fn, n)
	defer k.release()
	return s.run(ctx, q, k, counts.Empty)
}

// run dumps the tables of q into k over a connection of its own, but for
// those empty says are empty.
func (s *Source) run(ctx context.Context, q inspect.Query, k *sink, empty emptyFunc) error {
	c, err := s.open()
	if err != nil {
		return err
	}
	defer c.Close()
	return dumpTables(ctx, c, q, k, s.NetNS, empty)
}

// emptyFunc reports whether a table is known to hold no socket
// (procsrc.Sockstat.Empty); nil knows of none.
type emptyFunc func(inspect.Protocol, inspect.Family) bool

// open opens a sock_diag socket in the source's namespace.
func (s *Source) open() (DiagConn, error) {
	dial := s.Dial
	if dial == nil {
		dial = func(cfg *netlinkdiag.Config) (DiagConn, error) { return netlinkdiag.Dial(cfg) }
	}
	c, err := dial(&netlinkdiag.Config{NetNS: s.NetNS})
	if err != nil {
		return nil, fmt.Errorf("inspect: netlink: %w", err)
	}
	return c, nil
}

// Probe opens a sock_diag socket in the namespace open at netNS (0: the
// caller's) and closes it, returning why it could not: NetlinkUnavailable
// tells a kernel or sandbox without sock_diag.
func Probe(netNS int) error {
	c, err := netlinkdiag.Dial(&netlinkdiag.Config{NetNS: netNS})
	if err != nil {
		return err
	}
	return c.Close()
}

// dumpTables dumps the tables of q over c into k.
func dumpTables(ctx context.Context, c DiagConn, q inspect.Query, k *sink, netNS int, empty emptyFunc) error {
	d := dumper{c: c, q: &q, mask: k.ext.mask, k: k, netNS: netNS}
	// Decoding the extensions, and a caller's work on each batch, take
	// about as long as the kernel takes to send the sockets: then another
	// goroutine does them while this one receives, unless the caller says
	// its work is light (Inline).
	if k.ext.needed() || (k.fn != nil && !q.Inline) {
		d.pl = startPipeline(k)
	}
	// Unix sockets come first, as ss prints them.
	if len(q.UnixTypes) > 0 {
		if err := d.dumpUnix(ctx); err != nil {
			return d.finish(err)
		}
	}
	for _, p := range q.ProtocolsOrDefault() {
		fams := q.FamiliesOrDefault()
		if p == inspect.TCP && slices.Contains(fams, inspect.INet) && slices.Contains(fams, inspect.INet6) {
			bc4, err4 := bytecode(q.Filter, inspect.INet)
			bc6, err6 := bytecode(q.Filter, inspect.INet6)
			if err4 == nil && err6 == nil && bytes.Equal(bc4, bc6) {
				d.mark(markHold)
				if err := d.dump(ctx, p, 0, bc4, nil); err != nil {
					return d.finish(err)
				}
				d.mark(markRelease)
				continue
			}
		}
		for _, f := range fams {
			if f == inspect.Unix || (empty != nil && empty(p, f)) {
				continue
			}
			// The kernel runs the filter as bytecode; one too long for
			// it is run here instead.
			var match inspect.Filter
			bc, err := bytecode(q.Filter, f)
			switch {
			case errors.Is(err, netlinkdiag.ErrProgramTooLong):
				match = q.Filter
			case err != nil:
				return d.finish(fmt.Errorf("inspect: %w", err))
			}
			if err := d.dump(ctx, p, f, bc, match); err != nil {
				return d.finish(err)
			}
		}
	}
	err := d.finish(nil)
	if err == nil && len(d.interrupted) > 0 {
		err = inspect.Incomplete(fmt.Errorf("inspect: netlink dump of %s, %d attempts each: %w", strings.Join(d.interrupted, ", "), maxDumpAttempts, netlinkdiag.ErrDumpInterrupted))
	}
	return err
}

// bytecode returns f's program for family fam; none for no filter.
func bytecode(f inspect.Filter, fam inspect.Family) ([]byte, error) {
	if f == nil {
		return nil, nil
	}
	return f.Bytecode(fam)
}

// dumper runs the dumps of one listing, handing the sockets to the
// pipeline if there is one, and to the sink directly if not.
type dumper struct {
	c    DiagConn
	q    *inspect.Query
	mask uint8
	k    *sink
	pl   *pipeline
	// interrupted names the tables whose every attempt was interrupted.
	interrupted []string
	// netNS is the namespace's descriptor (0: the caller's), for the
	// tables read from /proc instead (dumpRawProc).
	netNS int
}

// dump lists the sockets of protocol p and family f (0: both) that the
// kernel keeps when it runs bc and, if match is not nil, that match keeps.
func (d *dumper) dump(ctx context.Context, p inspect.Protocol, f inspect.Family, bc []byte, match inspect.Filter) error {
	req := netlinkdiag.Request{
		Family:   uint8(f),
		Protocol: uint16(p),
		States:   uint32(d.q.States),
		Ext:      d.mask,
		Bytecode: bc,
	}
	// Each attempt starts the table afresh: an interrupted one may have
	// listed a socket the next lists again.
	d.mark(markTable)
	// One socket for the whole dump, each message decoded into it and
	// copied on: Match's pointer escapes through the Filter interface, so
	// a socket per message would be one allocation per message.
	var s inspect.Socket
	var err error
	for attempt := range maxDumpAttempts {
		if attempt > 0 {
			d.mark(markRetry)
		}
		err = d.c.DumpOnce(ctx, req, func(m *netlinkdiag.Msg) error {
			s = socketFromMsg(p, m)
			if match != nil && !match.Match(&s) {
				return nil
			}
			if d.pl != nil {
				return d.pl.add(&s, m.Attrs)
			}
			return d.k.put(&s)
		})
		if !errors.Is(err, netlinkdiag.ErrDumpInterrupted) {
			break
		}
	}
	name := "inet and inet6"
	if f != 0 {
		name = f.String()
	}
	switch {
	case errors.Is(err, netlinkdiag.ErrDumpInterrupted):
		d.interrupted = append(d.interrupted, fmt.Sprintf("%s/%s", p, name))
	case p == inspect.Raw && f != 0 && errors.Is(err, syscall.ENOENT):
		return d.dumpRawProc(ctx, f)
	case p == inspect.MPTCP && d.q.EveryKind && errors.Is(err, syscall.ENOENT):
		return nil // no mptcp_diag: ss lists none either
	case err != nil:
		return fmt.Errorf("inspect: netlink %s/%s dump: %w", p, name, err)
	}
	return nil
}

// mark passes a mark to the sink after the sockets before it.
func (d *dumper) mark(m int) {
	if d.pl != nil {
		d.pl.mark(m)
		return
	}
	d.k.mark(m)
}

// finish waits for the pipeline, hands the last batch to the sink's
// caller, and returns err or, if it is nil, the first error after it.
func (d *dumper) finish(err error) error {
	var kerr error
	if d.pl != nil {
		kerr = d.pl.finish()
	} else {
		kerr = d.k.end()
	}
	// The caller's error, or a decoding error, explains a dump stopped
	// by errPipelineStopped.
	if kerr != nil && (err == nil || errors.Is(err, errPipelineStopped)) {
		return kerr
	}
	return err
}

// socketFromMsg copies what the model keeps out of m, whose attributes alias
// the receive buffer.
func socketFromMsg(p inspect.Protocol, m *netlinkdiag.Msg) inspect.Socket {
	return inspect.Socket{
		Protocol:    p,
		Family:      familyFromAF(m.Family),
		State:       inspect.State(m.State),
		Local:       m.Src,
		Peer:        m.Dst,
		RecvQ:       m.RQueue,
		SendQ:       m.WQueue,
		UID:         m.UID,
		Inode:       uint64(m.Inode),
		Cookie:      m.Cookie,
		IfIndex:     m.IfIndex,
		Timer:       inspect.Timer(m.Timer),
		Expires:     time.Duration(m.Expires) * time.Millisecond,
		Retransmits: m.Retrans,
	}
}

func familyFromAF(af uint8) inspect.Family {
	if af == unix.AF_INET6 {
		return inspect.INet6
	}
	return inspect.INet
}
