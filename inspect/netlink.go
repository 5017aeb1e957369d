package inspect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
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
}

var _ Source = (*NetlinkSource)(nil)

// Sockets dumps the sockets q selects, UDP before TCP and IPv4 before IPv6,
// the order ss prints them in.
//
// TCP sockets of both families come from one dump (netlinkdiag's Family
// 0), which walks the kernel's tables once instead of once per family,
// when the filter compiles to the same bytecode for both; the sockets are
// then put in family order, keeping the kernel's order within each.
func (s *NetlinkSource) Sockets(ctx context.Context, q Query) ([]Socket, error) {
	c, err := netlinkdiag.Dial(&netlinkdiag.Config{NetNS: s.NetNS})
	if err != nil {
		return nil, fmt.Errorf("inspect: netlink: %w", err)
	}
	defer c.Close()

	d := dumper{c: c, q: &q, ext: newExtDecoder(q)}
	hint := sizeHint(s.NetNS, &q)
	// Decoding the extensions takes about as long as the kernel takes to
	// send them: with any asked for, another goroutine decodes while this
	// one receives.
	if d.ext.mask != 0 {
		d.pl = startExtPipeline(d.ext, hint)
	} else {
		d.out = make([]Socket, 0, hint)
	}
	// mixed lists the runs of d.out that hold both families.
	var mixed [][2]int
	for _, p := range q.protocols() {
		fams := q.families()
		if p == TCP && slices.Contains(fams, INet) && slices.Contains(fams, INet6) {
			bc4, err4 := q.Filter.Bytecode(INet)
			bc6, err6 := q.Filter.Bytecode(INet6)
			if err4 == nil && err6 == nil && bytes.Equal(bc4, bc6) {
				start := d.added
				if err := d.dump(ctx, p, 0, bc4, nil); err != nil {
					return d.finish(err)
				}
				mixed = append(mixed, [2]int{start, d.added})
				continue
			}
		}
		for _, f := range fams {
			// The kernel runs the filter as bytecode; one too long for
			// it is run here instead.
			var match *Filter
			bc, err := q.Filter.Bytecode(f)
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
	out, err := d.finish(nil)
	for _, run := range mixed {
		if run[1] <= len(out) {
			partitionByFamily(out[run[0]:run[1]])
		}
	}
	return out, err
}

// dumper runs the dumps of one Sockets call.
type dumper struct {
	c     *netlinkdiag.Conn
	q     *Query
	ext   *extDecoder
	pl    *extPipeline
	out   []Socket
	added int // sockets kept so far
}

// dump lists the sockets of protocol p and family f (0: both) that the
// kernel keeps when it runs bc and, if match is not nil, that match keeps.
func (d *dumper) dump(ctx context.Context, p Protocol, f Family, bc []byte, match *Filter) error {
	req := netlinkdiag.Request{
		Family:   uint8(f),
		Protocol: uint8(p),
		States:   uint32(d.q.States),
		Ext:      d.ext.mask,
		Bytecode: bc,
	}
	err := d.c.Dump(ctx, req, func(m *netlinkdiag.Msg) error {
		s := socketFromMsg(p, m)
		if match != nil && !match.Match(&s) {
			return nil
		}
		d.added++
		if d.pl != nil {
			d.pl.add(&s, m.Attrs)
			return nil
		}
		d.out = append(d.out, s)
		return nil
	})
	if err != nil {
		name := "inet and inet6"
		if f != 0 {
			name = f.String()
		}
		return fmt.Errorf("inspect: netlink %s/%s dump: %w", p, name, err)
	}
	return nil
}

// finish collects the sockets from the pipeline, if there is one, and
// returns them with err, or the pipeline's error if err is nil.
func (d *dumper) finish(err error) ([]Socket, error) {
	if d.pl != nil {
		var perr error
		d.out, perr = d.pl.finish()
		if err == nil {
			err = perr
		}
	}
	return d.out, err
}

// partitionByFamily moves socks' IPv4 sockets before its IPv6 ones, keeping
// the order within each family.
func partitionByFamily(socks []Socket) {
	var v6 []Socket
	n := 0
	for i := range socks {
		if socks[i].Family == INet6 {
			v6 = append(v6, socks[i])
			continue
		}
		socks[n] = socks[i]
		n++
	}
	copy(socks[n:], v6)
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
