package procsrc

import (
	"context"

	"github.com/sockstate/sockstate/inspect"

	"github.com/sockstate/sockstate/procnet"
)

var _ inspect.Poller = (*Source)(nil)

// NewPoll returns a Poll that keeps the buffers of its reads of /proc.
func (s *Source) NewPoll() inspect.Poll {
	return &procPoll{s: s, r: procnet.Reader{FS: s.fs()}}
}

type procPoll struct {
	s    *Source
	r    procnet.Reader
	seen inspect.Sightings
}

func (p *procPoll) Poll(ctx context.Context, q inspect.Query, dst []inspect.Socket) ([]inspect.Socket, error) {
	return p.s.read(ctx, q, &p.r, dst, &p.seen)
}

func (*procPoll) Close() {}
