package inspect

import (
	"context"
	"errors"

	"github.com/sockstate/sockstate/netlinkdiag"
	"github.com/sockstate/sockstate/procnet"
)

// poller lists a Source's sockets again and again, keeping what it can
// from one listing to the next: a Watcher's polls.
type poller interface {
	// poll lists what the Source's Sockets lists, appending to dst[:0],
	// whose sockets it overwrites, and dropping repeats with seen.
	poll(ctx context.Context, q Query, dst []Socket, seen *sightings) ([]Socket, error)
	close()
}

// newPoller returns a poller of src: one that keeps the built-in sources'
// sockets and buffers, and for any other Source one that calls Sockets
// and drops the repeats it may list.
func newPoller(src Source) poller {
	switch s := src.(type) {
	case *NetlinkSource:
		return &netlinkPoller{s: s}
	case *ProcSource:
		return &procPoller{s: s, r: procnet.Reader{FS: s.fs()}}
	case *AutoSource:
		return &autoPoller{s: s}
	}
	return sourcePoller{s: src}
}

// sourcePoller polls any Source.
type sourcePoller struct{ s Source }

func (p sourcePoller) poll(ctx context.Context, q Query, _ []Socket, seen *sightings) ([]Socket, error) {
	socks, err := p.s.Sockets(ctx, q)
	return dropRepeats(socks, seen), err
}

func (sourcePoller) close() {}

// netlinkPoller keeps one sock_diag socket open from poll to poll, and
// opens another after a poll that failed.
type netlinkPoller struct {
	s *NetlinkSource
	c diagConn
}

func (p *netlinkPoller) poll(ctx context.Context, q Query, dst []Socket, seen *sightings) ([]Socket, error) {
	if p.c == nil {
		c, err := p.s.open()
		if err != nil {
			return nil, err
		}
		p.c = c
	}
	k := newSink(q, nil, 0)
	k.out = dst[:0]
	if cap(k.out) == 0 {
		k.out = make([]Socket, 0, sizeHint(p.s.NetNS, &q))
	}
	err := dumpTables(ctx, p.c, q, k)
	if err != nil && !errors.Is(err, netlinkdiag.ErrDumpInterrupted) {
		p.close()
	}
	return dropRepeats(k.out, seen), err
}

func (p *netlinkPoller) close() {
	if p.c != nil {
		p.c.Close()
		p.c = nil
	}
}

// procPoller polls /proc, keeping the buffers of its reads.
type procPoller struct {
	s *ProcSource
	r procnet.Reader
}

func (p *procPoller) poll(ctx context.Context, q Query, dst []Socket, seen *sightings) ([]Socket, error) {
	return p.s.read(ctx, q, p.r.Read, dst, seen)
}

func (*procPoller) close() {}

// autoPoller polls as AutoSource.Sockets lists: netlink until it is
// unavailable, /proc from then on.
type autoPoller struct {
	s             *AutoSource
	netlink, proc poller
}

func (p *autoPoller) poll(ctx context.Context, q Query, dst []Socket, seen *sightings) ([]Socket, error) {
	if !p.s.hasFallenBack() {
		if p.netlink == nil {
			p.netlink = newPoller(p.s.Netlink)
		}
		socks, err := p.netlink.poll(ctx, q, dst, seen)
		if !NetlinkUnavailable(err) {
			return socks, err
		}
		p.s.fallBack(err)
		p.netlink.close()
	}
	if p.proc == nil {
		p.proc = newPoller(p.s.Proc)
	}
	return p.proc.poll(ctx, q, dst, seen)
}

func (p *autoPoller) close() {
	for _, q := range []poller{p.netlink, p.proc} {
		if q != nil {
			q.close()
		}
	}
}
