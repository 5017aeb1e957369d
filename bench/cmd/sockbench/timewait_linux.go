package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"
)

// twMaker makes TIME_WAIT sockets. It connects to its own listener and closes
// the client end first, so that end passes through FIN_WAIT2 into TIME_WAIT
// while the server end, closed second, goes through LAST_ACK to CLOSED.
// TIME_WAIT sockets hold no descriptor, so they cost the maker nothing to
// keep; the kernel drops them after 60 s, so the harness tops them up
// between rounds.
type twMaker struct {
	ln *net.TCPListener
	// next is the next source tuple to use, in [0, twTuples).
	next    int
	timeout time.Duration
}

func newTWMaker(timeout time.Duration) (*twMaker, error) {
	ln, err := net.ListenTCP("tcp4", net.TCPAddrFromAddrPort(twListenAddr))
	if err != nil {
		return nil, fmt.Errorf("timewait: %w", err)
	}
	return &twMaker{ln: ln, timeout: timeout}, nil
}

func (m *twMaker) Close() error { return m.ln.Close() }

// make creates count TIME_WAIT sockets within the maker's timeout, skipping
// source tuples an earlier socket still holds in TIME_WAIT.
func (m *twMaker) make(ctx context.Context, count int) error {
	deadline := time.Now().Add(m.timeout)
	for made, tried := 0, 0; made < count; tried++ {
		if tried == twTuples {
			return fmt.Errorf("timewait: all %d source tuples are taken", twTuples)
		}
		src := twClientAddr(m.next)
		m.next = (m.next + 1) % twTuples
		c, s, err := connectPair(ctx, m.ln, src, twListenAddr, deadline)
		if errors.Is(err, syscall.EADDRINUSE) {
			continue
		}
		if err == nil {
			// The client end first: it is the one that goes to
			// TIME_WAIT.
			err = errors.Join(c.Close(), s.Close())
		} else if c != nil {
			c.Close()
		}
		if err != nil {
			return fmt.Errorf("timewait: from %s: %w", src, err)
		}
		made++
	}
	return nil
}

// topUp makes TIME_WAIT sockets until the namespace has target of them.
func (m *twMaker) topUp(ctx context.Context, target int) error {
	s, err := readSockstat()
	if err != nil {
		return err
	}
	if s.TimeWait >= target {
		return nil
	}
	return m.make(ctx, target-s.TimeWait)
}
