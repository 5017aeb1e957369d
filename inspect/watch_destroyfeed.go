package inspect

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// destroyedSocket is a socket the kernel reported freed, and when the
// report arrived.
type destroyedSocket struct {
	Socket
	at  time.Time
	end endOf // from the report's tcp_info, where the source sends it
}

// destroyFeed collects what a DestroySource reports between two polls.
type destroyFeed struct {
	mu      sync.Mutex
	pending []destroyedSocket
	lost    []loss
	err     error
	// resync wakes the poll loop after a loss, so that it takes a fresh
	// dump at once.
	resync chan struct{}
}

func newDestroyFeed() *destroyFeed {
	return &destroyFeed{resync: make(chan struct{}, 1)}
}

func (f *destroyFeed) run(ctx context.Context, src DestroySource) {
	add := func(s *Socket) {
		d := destroyedSocket{Socket: *s, at: time.Now(), end: endFrom(s)}
		d.Info = nil // the source's, valid only during the call
		f.mu.Lock()
		f.pending = append(f.pending, d)
		f.mu.Unlock()
	}
	destroyed := src.Destroyed
	if is, ok := src.(InfoDestroySource); ok {
		destroyed = is.DestroyedInfo
	}
	for {
		err := destroyed(ctx, add)
		// A receive bound to ctx's deadline can time out a moment before
		// ctx's own timer marks it done: that is the end, not a failure.
		if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
			return
		}
		if err == nil {
			continue
		}
		var counted lossCounter
		isLoss := errors.Is(err, unix.ENOBUFS) || errors.As(err, &counted)
		f.mu.Lock()
		if isLoss {
			f.lost = append(f.lost, lossOf(err))
		} else {
			f.err = err
		}
		f.mu.Unlock()
		select {
		case f.resync <- struct{}{}:
		default:
		}
		if !isLoss {
			return
		}
	}
}

// take returns and forgets what arrived since the last take.
func (f *destroyFeed) take() (lost []loss, destroyed []destroyedSocket, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	lost, destroyed = f.lost, f.pending
	f.lost, f.pending = nil, nil
	return lost, destroyed, f.err
}

// putBack returns reports that a poll could not settle, ahead of newer ones.
func (f *destroyFeed) putBack(d []destroyedSocket) {
	if len(d) == 0 {
		return
	}
	f.mu.Lock()
	f.pending = append(d, f.pending...)
	f.mu.Unlock()
}
