package inspect

import (
	"context"
	"errors"

	"github.com/sockstate/sockstate/procnet"
)

var _ Poller = (*NetlinkSource)(nil)

// NewPoll returns a Poll that keeps one sock_diag socket open from poll to
// poll, and opens another after a poll that failed.
func (s *NetlinkSource) NewPoll() Poll { return &netlinkPoll{s: s} }

type netlinkPoll struct {
	s    *NetlinkSource
	c    DiagConn
	seen Sightings
}

func (p *netlinkPoll) Poll(ctx context.Context, q Query, dst []Socket) ([]Socket, error) {
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
	if err != nil && !errors.Is(err, ErrIncomplete) {
		p.Close()
	}
	return DropRepeats(k.out, &p.seen), err
}

func (p *netlinkPoll) Close() {
	if p.c != nil {
		p.c.Close()
		p.c = nil
	}
}

var _ Poller = (*ProcSource)(nil)

// NewPoll returns a Poll that keeps the buffers of its reads of /proc.
func (s *ProcSource) NewPoll() Poll {
	return &procPoll{s: s, r: procnet.Reader{FS: s.fs()}}
}

type procPoll struct {
	s    *ProcSource
	r    procnet.Reader
	seen Sightings
}

func (p *procPoll) Poll(ctx context.Context, q Query, dst []Socket) ([]Socket, error) {
	return p.s.read(ctx, q, p.r.Read, dst, &p.seen)
}

func (*procPoll) Close() {}

var _ Poller = (*AutoSource)(nil)

// NewPoll returns a Poll that polls as Sockets lists: netlink until it is
// unavailable, /proc from then on.
func (s *AutoSource) NewPoll() Poll { return &autoPoll{s: s} }

type autoPoll struct {
	s             *AutoSource
	netlink, proc Poll
}

func (p *autoPoll) Poll(ctx context.Context, q Query, dst []Socket) ([]Socket, error) {
	if !p.s.hasFallenBack() {
		if p.netlink == nil {
			p.netlink = NewPoll(p.s.Netlink)
		}
		socks, err := p.netlink.Poll(ctx, q, dst)
		if !NetlinkUnavailable(err) {
			return socks, err
		}
		p.s.fallBack(err)
		p.netlink.Close()
	}
	if p.proc == nil {
		p.proc = NewPoll(p.s.Proc)
	}
	return p.proc.Poll(ctx, q, dst)
}

func (p *autoPoll) Close() {
	for _, q := range []Poll{p.netlink, p.proc} {
		if q != nil {
			q.Close()
		}
	}
}
