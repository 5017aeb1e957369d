package sockdiag

import (
	"context"
	"errors"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/procsrc"
)

var _ inspect.Poller = (*Source)(nil)

// NewPoll returns a Poll that keeps one sock_diag socket open from poll to
// poll, and opens another after a poll that failed.
func (s *Source) NewPoll() inspect.Poll { return &netlinkPoll{s: s} }

type netlinkPoll struct {
	s    *Source
	c    DiagConn
	seen inspect.Sightings
}

func (p *netlinkPoll) Poll(ctx context.Context, q inspect.Query, dst []inspect.Socket) ([]inspect.Socket, error) {
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
		k.out = make([]inspect.Socket, 0, procsrc.SizeHint(p.s.NetNS, &q))
	}
	err := dumpTables(ctx, p.c, q, k, p.s.NetNS, nil)
	if err != nil && !errors.Is(err, inspect.ErrIncomplete) {
		p.Close()
	}
	return inspect.DropRepeats(k.out, &p.seen), err
}

func (p *netlinkPoll) Close() {
	if p.c != nil {
		p.c.Close()
		p.c = nil
	}
}

var _ inspect.Poller = (*AutoSource)(nil)

// NewPoll returns a Poll that polls as Sockets lists: netlink until it is
// unavailable, /proc from then on.
func (s *AutoSource) NewPoll() inspect.Poll { return &autoPoll{s: s} }

type autoPoll struct {
	s             *AutoSource
	netlink, proc inspect.Poll
}

func (p *autoPoll) Poll(ctx context.Context, q inspect.Query, dst []inspect.Socket) ([]inspect.Socket, error) {
	if !p.s.hasFallenBack() {
		if p.netlink == nil {
			p.netlink = inspect.NewPoll(p.s.Netlink)
		}
		socks, err := p.netlink.Poll(ctx, q, dst)
		if !NetlinkUnavailable(err) {
			return socks, err
		}
		p.s.fallBack(err)
		p.netlink.Close()
	}
	if p.proc == nil {
		p.proc = inspect.NewPoll(p.s.Proc)
	}
	return p.proc.Poll(ctx, q, dst)
}

func (p *autoPoll) Close() {
	for _, q := range []inspect.Poll{p.netlink, p.proc} {
		if q != nil {
			q.Close()
		}
	}
}
