package demo

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// callTimeout bounds every blocking call (accept, recv), so that a step
// that cannot complete fails instead of hanging.
const callTimeout = 5 * time.Second

// interruptedError is the demo's end when its context is canceled (SIGINT
// or SIGTERM in the CLI): "interrupted", with the context's error behind
// it for errors.Is.
type interruptedError struct{ err error }

func (e *interruptedError) Error() string { return "interrupted" }
func (e *interruptedError) Unwrap() error { return e.err }

// ended returns the error of the demo ending with ctx: "demo:
// interrupted" when it was canceled, else the context's error.
func ended(ctx context.Context) error {
	err := ctx.Err()
	if errors.Is(err, context.Canceled) {
		err = &interruptedError{err}
	}
	return fmt.Errorf("demo: %w", err)
}

// waiter waits for a socket to be readable, or for its context to end:
// poll(2) watches the socket and an eventfd that the context's end
// writes to, so a blocking call is taken only once it cannot block.
type waiter struct {
	ctx  context.Context
	stop func() bool

	mu     sync.Mutex // guards efd against the write after close
	efd    int
	closed bool
}

func newWaiter(ctx context.Context) (*waiter, error) {
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("demo: eventfd: %w", err)
	}
	w := &waiter{ctx: ctx, efd: efd}
	w.stop = context.AfterFunc(ctx, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if !w.closed {
			// Native byte order: eventfd(2) counts in a host uint64.
			unix.Write(w.efd, []byte{1, 0, 0, 0, 0, 0, 0, 0})
		}
	})
	return w, nil
}

func (w *waiter) close() {
	w.stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	unix.Close(w.efd)
}

// readable waits, up to callTimeout, until fd has something to read (a
// connection to accept, data or the end of the stream), or the context
// ends.
func (w *waiter) readable(fd int) error {
	deadline := time.Now().Add(callTimeout)
	for {
		if err := w.ctx.Err(); err != nil {
			return ended(w.ctx)
		}
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("nothing came in %v", callTimeout)
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(w.efd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(left.Milliseconds())+1)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return fmt.Errorf("poll: %w", err)
		case fds[1].Revents != 0:
			return ended(w.ctx)
		case n > 0:
			return nil
		}
	}
}
