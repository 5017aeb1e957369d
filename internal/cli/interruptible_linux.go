//go:build linux

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"
)

// interruptible returns a writer to w through which a write blocked on a
// full pipe ends when ctx is cancelled, with ctx's error, and a function
// that releases it. A write to stdout blocks in write(2) while the reader
// of a pipe stalls (sockstate ls | less, not paging), and no signal
// handled by the Go runtime interrupts it: so when w is a pipe it is
// opened again, through /proc/self/fd, as a file description of its own
// in non-blocking mode, which the runtime's poller waits on and a
// deadline interrupts. Setting O_NONBLOCK on w's own description would
// change it for every process that shares it (the shell). Any other
// writer, or a pipe that cannot be opened again (the pipe of another
// user, a reader gone), is returned as it is.
func interruptible(ctx context.Context, w io.Writer) (io.Writer, func()) {
	f, ok := w.(*os.File)
	if !ok {
		return w, func() {}
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		return w, func() {}
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return w, func() {}
	}
	var fd uintptr
	// Control, not Fd: Fd would put w's description in blocking mode.
	if err := rc.Control(func(x uintptr) { fd = x }); err != nil {
		return w, func() {}
	}
	p, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", fd), os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return w, func() {}
	}
	// A file the poller does not take has no deadlines.
	if err := p.SetWriteDeadline(time.Time{}); err != nil {
		p.Close()
		return w, func() {}
	}
	stop := context.AfterFunc(ctx, func() { p.SetWriteDeadline(time.Unix(1, 0)) })
	return &ctxWriter{ctx: ctx, f: p}, func() {
		stop()
		p.Close()
	}
}

// ctxWriter writes to f until ctx is cancelled, which sets a deadline
// long past on f.
type ctxWriter struct {
	ctx context.Context
	f   *os.File
}

func (w *ctxWriter) Write(b []byte) (int, error) {
	n, err := w.f.Write(b)
	if errors.Is(err, os.ErrDeadlineExceeded) && w.ctx.Err() != nil {
		return n, w.ctx.Err()
	}
	return n, err
}
