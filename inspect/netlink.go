package inspect

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/netlinkdiag"
)

// NetlinkSource lists sockets with sock_diag (NETLINK_SOCK_DIAG). The kernel
// applies the state mask, so unwanted sockets never cross into userspace.
type NetlinkSource struct {
	// NetNS is a network namespace file descriptor to query; 0 means the
	// caller's own namespace.
	NetNS int

	// dial opens the sock_diag socket; nil means netlinkdiag.Dial. Tests
	// script the kernel's replies with it.
	dial func(*netlinkdiag.Config) (diagConn, error)
}

var _ Source = (*NetlinkSource)(nil)

// diagConn is what Sockets needs of a *netlinkdiag.Conn.
type diagConn interface {
	DumpOnce(ctx context.Context, req netlinkdiag.Request, fn func(*netlinkdiag.Msg) error) error
	Close() error
}

// maxDumpAttempts bounds how often Sockets dumps a table whose dump the
// kernel keeps interrupting.
const maxDumpAttempts = 3

// Sockets dumps the sockets q selects, UDP before TCP and IPv4 before IPv6,
// the order ss prints them in, each once (dropRepeats).
//
// A table whose dump the kernel interrupts (NLM_F_DUMP_INTR: the table
// changed during the walk) is dumped again, up to 3 times in all. If every
// attempt is interrupted, Sockets keeps the last attempt's sockets, goes on
// with the other tables, and returns all it has with an error wrapping
// netlinkdiag.ErrDumpInterrupted.
func (s *NetlinkSource) Sockets(ctx context.Context, q Query) ([]Socket, error) {
	dial := s.dial
	if dial == nil {
		dial = func(cfg *netlinkdiag.Config) (diagConn, error) { return netlinkdiag.Dial(cfg) }
	}
	c, err := dial(&netlinkdiag.Config{NetNS: s.NetNS})
	if err != nil {
		return nil, fmt.Errorf("inspect: netlink: %w", err)
	}
	defer c.Close()

	var out []Socket
	var interrupted []string // the tables whose every attempt was interrupted
	for _, p := range q.protocols() {
		for _, f := range q.families() {
			req := netlinkdiag.Request{
				Family:   uint8(f),
				Protocol: uint8(p),
				States:   uint32(q.States),
			}
			// The kernel runs the filter as bytecode; one too long for it
			// is run here instead.
			var match *Filter
			if q.Filter != nil {
				bc, err := q.Filter.Bytecode(f)
				switch {
				case errors.Is(err, netlinkdiag.ErrProgramTooLong):
					match = q.Filter
				case err != nil:
					return out, fmt.Errorf("inspect: %w", err)
				}
				req.Bytecode = bc
			}
			// Each attempt starts the table afresh: an interrupted one
			// may have listed a socket the next lists again.
			start := len(out)
			var err error
			for range maxDumpAttempts {
				out = out[:start]
				err = c.DumpOnce(ctx, req, func(m *netlinkdiag.Msg) error {
					s := socketFromMsg(p, m)
					if match == nil || match.Match(&s) {
						out = append(out, s)
					}
					return nil
				})
				if !errors.Is(err, netlinkdiag.ErrDumpInterrupted) {
					break
				}
			}
			switch {
			case errors.Is(err, netlinkdiag.ErrDumpInterrupted):
				interrupted = append(interrupted, fmt.Sprintf("%s/%s", p, f))
			case err != nil:
				return out, fmt.Errorf("inspect: netlink %s/%s dump: %w", p, f, err)
			}
		}
	}
	if len(interrupted) > 0 {
		return dropRepeats(out, &sightings{}), fmt.Errorf("inspect: netlink dump of %s, %d attempts each: %w", strings.Join(interrupted, ", "), maxDumpAttempts, netlinkdiag.ErrDumpInterrupted)
	}
	return dropRepeats(out, &sightings{}), nil
}

// socketFromMsg copies what the model keeps out of m, whose attributes alias
// the receive buffer.
func socketFromMsg(p Protocol, m *netlinkdiag.Msg) Socket {
	return Socket{
		Protocol:    p,
		Family:      familyFromAF(m.Family),
		State:       State(m.State),
		Local:       m.Src,
		Peer:        m.Dst,
		RecvQ:       m.RQueue,
		SendQ:       m.WQueue,
		UID:         m.UID,
		Inode:       uint64(m.Inode),
		Cookie:      m.Cookie,
		IfIndex:     m.IfIndex,
		Timer:       Timer(m.Timer),
		Expires:     time.Duration(m.Expires) * time.Millisecond,
		Retransmits: m.Retrans,
	}
}

func familyFromAF(af uint8) Family {
	if af == unix.AF_INET6 {
		return INet6
	}
	return INet
}
